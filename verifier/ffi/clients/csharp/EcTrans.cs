// The national-shaped call from C# with P/Invoke, declared as a Windows HIS declares today's
// voucher DLL (stdcall, ANSI strings, a StringBuilder for the answer); run here under Mono:
//   mcs EcTrans.cs && mono EcTrans.exe <terminal dir> <institution> <code> <init file>
// version; set-up (yibao.init); the code accepted through ec.query with a GBK operator name
// (bytes, as an ANSI program on a Chinese Windows sends them); replayed and forged copies
// refused; a buffer too small; flush to the running issuer; ec.result gives settlement's
// ecToken. Prints "OK <ecToken>" and exits 0.
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;

static class Yibao
{
    const string Dll = "yibao_verifier_ffi";

    [DllImport(Dll, CallingConvention = CallingConvention.StdCall, CharSet = CharSet.Ansi)]
    public static extern int yibao_ec_trans(string dir, string input, StringBuilder output,
        int outputSize, out int needed);

    // The same function with bytes: how a test on Linux (where ANSI means UTF-8) sends GBK.
    [DllImport(Dll, EntryPoint = "yibao_ec_trans", CallingConvention = CallingConvention.StdCall)]
    public static extern int yibao_ec_trans_bytes(byte[] dir, byte[] input, byte[] output,
        int outputSize, out int needed);

    [DllImport(Dll, CallingConvention = CallingConvention.StdCall, CharSet = CharSet.Ansi)]
    public static extern int yibao_version(StringBuilder output, int outputSize, out int needed);

    [DllImport(Dll, CallingConvention = CallingConvention.StdCall, CharSet = CharSet.Ansi)]
    public static extern int yibao_set_charset(string name);
}

static class EcTrans
{
    static int failures = 0;

    static void Expect(string what, int got, int want, string answer, string needle)
    {
        bool ok = got == want && (needle == null || answer.Contains(needle));
        Console.WriteLine((ok ? "ok   " : "FAIL ") + what + ": " + got + " " + answer);
        if (!ok) failures++;
    }

    static string Field(string answer, string key)
    {
        Match m = Regex.Match(answer, "\"" + key + "\":\"([^\"]*)\"");
        return m.Success ? m.Groups[1].Value : "";
    }

    static byte[] Bytes(params byte[][] parts)
    {
        var all = new MemoryStream();
        foreach (var part in parts) all.Write(part, 0, part.Length);
        all.WriteByte(0);
        return all.ToArray();
    }

    static string Query(string institution, string code, string operatorName)
    {
        return "{\"transType\":\"ec.query\",\"orgId\":\"" + institution + "\",\"data\":{\"orgId\":\""
            + institution + "\",\"businessType\":\"02121\",\"operatorId\":\"c-01\",\"operatorName\":\""
            + operatorName + "\",\"officeId\":\"A03\",\"officeName\":\"\",\"deviceType\":\"\",\"ecQrCode\":\""
            + code + "\"}}";
    }

    static int Main(string[] args)
    {
        string dir = args[0], institution = args[1], code = args[2];
        var output = new StringBuilder(8192);
        int needed;

        int rc = Yibao.yibao_version(output, output.Capacity, out needed);
        Expect("version", rc, 0, output.ToString(), "\"abiVersion\":1");

        rc = Yibao.yibao_ec_trans(dir, File.ReadAllText(args[3]), output, output.Capacity, out needed);
        Expect("init", rc, 0, output.ToString(), "\"code\":\"0000\"");

        // GBK: 测试收银员 as an ANSI program on a Chinese Windows sends it.
        Yibao.yibao_set_charset("GBK");
        var ascii = Encoding.ASCII;
        string[] halves = Query(institution, code, "|").Split('|');
        byte[] gbkName = { 0xb2, 0xe2, 0xca, 0xd4, 0xca, 0xd5, 0xd2, 0xf8, 0xd4, 0xb1 };
        byte[] answer = new byte[8192];
        rc = Yibao.yibao_ec_trans_bytes(Bytes(ascii.GetBytes(dir)),
            Bytes(ascii.GetBytes(halves[0]), gbkName, ascii.GetBytes(halves[1])), answer, answer.Length, out needed);
        int end = Array.IndexOf(answer, (byte)0);
        string latin = Encoding.GetEncoding("ISO-8859-1").GetString(answer, 0, end);
        // 成功 in GBK: B3 C9 B9 A6.
        Expect("ec.query (GBK)", rc, 0, latin, "\u00b3\u00c9\u00b9\u00a6");
        string ecToken = Field(latin, "ecToken");
        Yibao.yibao_set_charset("UTF-8");

        string query = Query(institution, code, "\u6d4b\u8bd5\u6536\u94f6\u5458");
        rc = Yibao.yibao_ec_trans(dir, query, output, output.Capacity, out needed);
        Expect("replayed", rc, 1, output.ToString(), "\"reason\":\"replayed\"");
        char last = code[code.Length - 1];
        string forged = Query(institution, code.Substring(0, code.Length - 1) + (last == '0' ? '1' : '0'), "c");
        rc = Yibao.yibao_ec_trans(dir, forged, output, output.Capacity, out needed);
        Expect("forged", rc, 1, output.ToString(), "\"code\":\"1001\"");
        var small = new StringBuilder(100);
        rc = Yibao.yibao_ec_trans(dir, forged, small, small.Capacity, out needed);
        bool tooSmall = rc == 4 && needed == 4096;
        Console.WriteLine((tooSmall ? "ok   " : "FAIL ") + "buffer too small: " + rc + " needed=" + needed);
        if (!tooSmall) failures++;

        rc = Yibao.yibao_ec_trans(dir, "{\"transType\":\"yibao.flush\",\"data\":{\"timeoutSecs\":30}}",
            output, output.Capacity, out needed);
        Expect("flush", rc, 0, output.ToString(), "\"answered\":1");
        rc = Yibao.yibao_ec_trans(dir, "{\"transType\":\"ec.result\",\"data\":{\"ecToken\":\"" + ecToken + "\"}}",
            output, output.Capacity, out needed);
        Expect("ec.result", rc, 0, output.ToString(), "\"settled\":true");
        string reference = Field(output.ToString(), "ecToken");
        rc = Yibao.yibao_ec_trans(dir, "{\"transType\":\"yibao.close\"}", output, output.Capacity, out needed);
        Expect("close", rc, 0, output.ToString(), null);

        if (failures == 0 && ecToken.StartsWith("ybp") && reference.Length > 0 && !reference.StartsWith("ybp"))
        {
            Console.WriteLine("OK " + reference);
            return 0;
        }
        return 1;
    }
}
