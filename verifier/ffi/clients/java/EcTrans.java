// The national-shaped call from Java with JNA (Debian: libjna-java), caller buffers only:
//   java -cp /usr/share/java/jna.jar EcTrans.java <library> <terminal dir> <institution> <code> <init file>
// version; set-up (yibao.init); the code accepted through ec.query with a GBK operator name;
// replayed and forged copies refused; a buffer too small; flush to the running issuer;
// ec.result gives settlement's ecToken. Prints "OK <ecToken>" and exits 0.
// (On 32-bit Windows the library would extend StdCallLibrary: its functions are stdcall.)
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import java.nio.charset.Charset;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class EcTrans {
    public interface Yibao extends Library {
        int yibao_ec_trans(byte[] dir, byte[] input, byte[] output, int outputSize, IntByReference needed);
        int yibao_version(byte[] output, int outputSize, IntByReference needed);
        int yibao_set_charset(byte[] name);
    }

    static Yibao lib;
    static String dir;
    static Charset charset = Charset.forName("UTF-8");
    static int failures = 0;
    static int needed = 0;

    static byte[] text(String s) {
        byte[] bytes = s.getBytes(charset);
        byte[] out = new byte[bytes.length + 1];
        System.arraycopy(bytes, 0, out, 0, bytes.length);
        return out;
    }

    static byte[] last = new byte[0];

    static String answer(byte[] buffer) {
        int end = 0;
        while (end < buffer.length && buffer[end] != 0) end++;
        last = java.util.Arrays.copyOf(buffer, end);
        return new String(buffer, 0, end, charset);
    }

    static int trans(byte[] input, int size, StringBuilder out) {
        byte[] buffer = new byte[size];
        IntByReference n = new IntByReference();
        int rc = lib.yibao_ec_trans(text(dir), input, buffer, size, n);
        needed = n.getValue();
        out.setLength(0);
        out.append(answer(buffer));
        return rc;
    }

    static void expect(String what, int got, int want, String answer, String needle) {
        boolean ok = got == want && (needle == null || answer.contains(needle));
        System.out.println((ok ? "ok   " : "FAIL ") + what + ": " + got + " " + answer);
        if (!ok) failures++;
    }

    static String field(String answer, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":\"([^\"]*)\"").matcher(answer);
        return m.find() ? m.group(1) : "";
    }

    static String query(String institution, String code) {
        return "{\"transType\":\"ec.query\",\"orgId\":\"" + institution + "\",\"data\":{\"orgId\":\""
            + institution + "\",\"businessType\":\"02121\",\"operatorId\":\"c-01\","
            + "\"operatorName\":\"\u6d4b\u8bd5\u6536\u94f6\u5458\",\"officeId\":\"A03\",\"officeName\":\"\","
            + "\"deviceType\":\"\",\"ecQrCode\":\"" + code + "\"}}";
    }

    public static void main(String[] args) throws Exception {
        lib = Native.load(args[0], Yibao.class);
        dir = args[1];
        String institution = args[2], code = args[3];
        StringBuilder out = new StringBuilder();

        byte[] version = new byte[512];
        int rc = lib.yibao_version(version, version.length, new IntByReference());
        expect("version", rc, 0, answer(version), "\"abiVersion\":1");

        byte[] init = Files.readAllBytes(Paths.get(args[4]));
        rc = trans(java.util.Arrays.copyOf(init, init.length + 1), 8192, out);
        expect("init", rc, 0, out.toString(), "\"code\":\"0000\"");

        // An ANSI program: GBK in and out.
        lib.yibao_set_charset(text("GBK"));
        charset = Charset.forName("GBK");
        rc = trans(text(query(institution, code)), 8192, out);
        expect("ec.query (GBK)", rc, 0, out.toString(), "\u6210\u529f");
        byte[] gbkOk = "\u6210\u529f".getBytes(charset);
        if (!new String(last, Charset.forName("ISO-8859-1")).contains(new String(gbkOk, Charset.forName("ISO-8859-1")))) {
            System.out.println("FAIL the answer is not GBK");
            failures++;
        }
        String ecToken = field(out.toString(), "ecToken");
        lib.yibao_set_charset(text("UTF-8"));
        charset = Charset.forName("UTF-8");

        rc = trans(text(query(institution, code)), 8192, out);
        expect("replayed", rc, 1, out.toString(), "\"reason\":\"replayed\"");
        char lastChar = code.charAt(code.length() - 1);
        String forged = code.substring(0, code.length() - 1) + (lastChar == '0' ? '1' : '0');
        rc = trans(text(query(institution, forged)), 8192, out);
        expect("forged", rc, 1, out.toString(), "\"code\":\"1001\"");
        rc = trans(text(query(institution, forged)), 100, out);
        boolean small = rc == 4 && needed == 4096 && out.length() == 0;
        System.out.println((small ? "ok   " : "FAIL ") + "buffer too small: " + rc + " needed=" + needed);
        if (!small) failures++;

        rc = trans(text("{\"transType\":\"yibao.flush\",\"data\":{\"timeoutSecs\":30}}"), 8192, out);
        expect("flush", rc, 0, out.toString(), "\"answered\":1");
        rc = trans(text("{\"transType\":\"ec.result\",\"data\":{\"ecToken\":\"" + ecToken + "\"}}"), 8192, out);
        expect("ec.result", rc, 0, out.toString(), "\"settled\":true");
        String reference = field(out.toString(), "ecToken");
        rc = trans(text("{\"transType\":\"yibao.close\"}"), 8192, out);
        expect("close", rc, 0, out.toString(), null);

        if (failures == 0 && ecToken.startsWith("ybp") && !reference.isEmpty() && !reference.startsWith("ybp")) {
            System.out.println("OK " + reference);
            System.exit(0);
        }
        System.exit(1);
    }
}
