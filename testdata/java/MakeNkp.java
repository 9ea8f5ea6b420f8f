// Writes a PKCS#12 keystore with one AES SecretKeyEntry, the way Java keytool does, using the
// real JDK PKCS12 KeyStore. Prints the values nkp-escrow must read back, as one JSON object.
//
// Usage: java MakeNkp.java <out.p12> <password> <alias> <hex key>
// Run with -Dkeystore.pkcs12.legacy for the pre-JDK-12 algorithms (3DES / SHA-1).
import java.io.FileOutputStream;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.time.Instant;
import javax.crypto.spec.SecretKeySpec;

public class MakeNkp {
    public static void main(String[] a) throws Exception {
        byte[] key = java.util.HexFormat.of().parseHex(a[3]);
        char[] pw = a[1].toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setEntry(a[2], new KeyStore.SecretKeyEntry(new SecretKeySpec(key, "AES")),
                new KeyStore.PasswordProtection(pw));
        try (FileOutputStream out = new FileOutputStream(a[0])) {
            ks.store(out, pw);
        }
        KeyStore back = KeyStore.getInstance("PKCS12");
        try (java.io.FileInputStream in = new java.io.FileInputStream(a[0])) {
            back.load(in, pw);
        }
        long created = back.getCreationDate(a[2]).getTime();
        byte[] fp = MessageDigest.getInstance("SHA-256").digest(key);
        System.out.printf(
            "{\"name\": \"%s\", \"key_id\": null, \"export_time\": \"%s\", \"tpm_required\": null, \"kdk_bits\": %d, \"kdk_fingerprint\": \"sha256:%s\"}%n",
            a[2], Instant.ofEpochMilli(created), key.length * 8, java.util.HexFormat.of().formatHex(fp));
    }
}
