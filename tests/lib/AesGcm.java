// tests/lib/AesGcm.java: the JDK's own AES/GCM/NoPadding (javax.crypto), laid out as Kestra's
// EncryptionService lays it out (base64 of a 12-byte IV, then the ciphertext and its 128-bit
// tag), to check that kite's encrypt()/decrypt() are byte-compatible with Kestra's.
//   java tests/lib/AesGcm.java enc KEY_B64 PLAINTEXT   -> prints the base64 value
//   java tests/lib/AesGcm.java dec KEY_B64 VALUE_B64   -> prints the plaintext
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;

public class AesGcm {
    public static void main(String[] a) throws Exception {
        SecretKeySpec key = new SecretKeySpec(Base64.getDecoder().decode(a[1]), "AES");
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        if (a[0].equals("enc")) {
            byte[] iv = new byte[12];
            new SecureRandom().nextBytes(iv);
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(128, iv));
            byte[] ct = c.doFinal(a[2].getBytes(StandardCharsets.UTF_8));
            byte[] all = new byte[iv.length + ct.length];
            System.arraycopy(iv, 0, all, 0, iv.length);
            System.arraycopy(ct, 0, all, iv.length, ct.length);
            System.out.println(Base64.getEncoder().encodeToString(all));
        } else {
            byte[] in = Base64.getDecoder().decode(a[2]);
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(128, Arrays.copyOf(in, 12)));
            byte[] pt = c.doFinal(Arrays.copyOfRange(in, 12, in.length));
            System.out.println(new String(pt, StandardCharsets.UTF_8));
        }
    }
}
