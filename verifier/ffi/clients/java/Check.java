// The terminal scenario through the C ABI from Java with JNA (Debian: libjna-java), as a
// hospital system written in Java would call it:
//   java -cp /usr/share/java/jna.jar Check.java <library> <terminal dir> <institution> <code>
// open; the code accepted; a replay and a forged copy refused; malformed JSON answered with
// an error code; status; flush to the running issuer; the settlement reference. Prints
// "OK <reference>" and exits 0.
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class Check {
    public interface Yibao extends Library {
        int yibao_abi_version();
        int yibao_terminal_open(byte[] request, PointerByReference terminal, PointerByReference answer);
        int yibao_check(Pointer terminal, byte[] request, PointerByReference answer);
        int yibao_status(Pointer terminal, PointerByReference answer);
        int yibao_flush(Pointer terminal, byte[] request, PointerByReference answer);
        int yibao_presentation(Pointer terminal, byte[] request, PointerByReference answer);
        void yibao_terminal_close(Pointer terminal);
        void yibao_string_free(Pointer answer);
    }

    static Yibao lib;
    static int failures = 0;

    /** A request as the NUL-terminated UTF-8 the ABI takes. */
    static byte[] utf8(String json) {
        byte[] text = json.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[text.length + 1];
        System.arraycopy(text, 0, out, 0, text.length);
        return out;
    }

    /** The answer's text; the library's string is freed here. */
    static String take(PointerByReference answer) {
        Pointer p = answer.getValue();
        String text = p.getString(0, "UTF-8");
        lib.yibao_string_free(p);
        return text;
    }

    static String expect(String what, int got, int want, String answer, String needle) {
        boolean ok = got == want && answer.contains(needle);
        System.out.println((ok ? "ok   " : "FAIL ") + what + " " + got + " " + answer);
        if (!ok) failures++;
        return answer;
    }

    public static void main(String[] args) {
        lib = Native.load(args[0], Yibao.class);
        String dir = args[1], institution = args[2], code = args[3];
        if (lib.yibao_abi_version() != 1) { System.out.println("FAIL abi version"); System.exit(1); }
        PointerByReference terminal = new PointerByReference(), answer = new PointerByReference();
        int rc = lib.yibao_terminal_open(utf8("{\"dir\": \"" + dir + "\"}"), terminal, answer);
        expect("open", rc, 0, take(answer), "\"abi_version\":1");
        Pointer t = terminal.getValue();
        String request = "{\"code\": \"" + code + "\", \"institution\": \"" + institution
            + "\", \"operator\": \"cashier-java\", \"business_type\": \"02121\"}";
        rc = lib.yibao_check(t, utf8(request), answer);
        String accepted = expect("check", rc, 0, take(answer), "\"accepted\":true");
        Matcher queued = Pattern.compile("\"queued\":(\\d+)").matcher(accepted);
        String seq = queued.find() ? queued.group(1) : "-1";
        rc = lib.yibao_check(t, utf8(request), answer);
        expect("replay", rc, 1, take(answer), "\"code\":\"replayed\"");
        String last = code.substring(code.length() - 1);
        String forged = request.replace(code, code.substring(0, code.length() - 1) + (last.equals("0") ? "1" : "0"));
        rc = lib.yibao_check(t, utf8(forged), answer);
        expect("forged", rc, 1, take(answer), "\"accepted\":false");
        rc = lib.yibao_check(t, utf8("{\"code\":"), answer);
        expect("malformed json", rc, 2, take(answer), "\"error\":\"malformed-json\"");
        rc = lib.yibao_status(t, answer);
        expect("status", rc, 0, take(answer), "\"queued\":1");
        rc = lib.yibao_flush(t, null, answer);
        expect("flush", rc, 0, take(answer), "\"answered\":1");
        rc = lib.yibao_presentation(t, utf8("{\"queued\": " + seq + "}"), answer);
        String settled = expect("settled", rc, 0, take(answer), "\"outcome\":\"settled\"");
        lib.yibao_terminal_close(t);
        Matcher reference = Pattern.compile("\"reference\":\"([^\"]+)\"").matcher(settled);
        if (failures > 0 || !reference.find()) System.exit(1);
        System.out.println("OK " + reference.group(1));
    }
}
