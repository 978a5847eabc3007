/* The national-shaped call from C, as a HIS vendor's C code calls today's voucher DLL:
 *   ec_trans <terminal dir> <institution> <code> <yibao.init request file>
 * version; set-up (yibao.init, then sync); the code accepted through ec.query with a GBK
 * operator name; replayed and forged copies refused; a buffer too small; flush to the running
 * issuer; ec.result gives settlement's ecToken. Caller buffers only: nothing to free.
 * Prints "OK <ecToken>" and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "yibao_verifier.h"

static int failures = 0;
static char out[8192];
static int32_t needed = 0;

static void expect(const char *what, int32_t got, int32_t want, const char *needle) {
    int ok = got == want && (needle == NULL || strstr(out, needle) != NULL);
    printf("%s %s: %d needed=%d %s\n", ok ? "ok  " : "FAIL", what, got, needed, out);
    if (!ok) failures++;
}

/* The value of "key":"..." in the last answer, copied into `value`. */
static int field(const char *key, char *value, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr(out, pattern);
    if (at == NULL) return 0;
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    if (end == NULL || (size_t)(end - at) >= size) return 0;
    memcpy(value, at, (size_t)(end - at));
    value[end - at] = '\0';
    return 1;
}

/* An ec.query request for `code`, with the operator's name in the caller's charset. */
static void query(char *request, size_t size, const char *institution, const char *code,
                  const char *operator_name) {
    snprintf(request, size,
             "{\"transType\":\"ec.query\",\"orgId\":\"%s\",\"data\":{\"orgId\":\"%s\","
             "\"businessType\":\"02121\",\"operatorId\":\"c-01\",\"operatorName\":\"%s\","
             "\"officeId\":\"A03\",\"officeName\":\"\",\"deviceType\":\"\",\"ecQrCode\":\"%s\"}}",
             institution, institution, operator_name, code);
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: ec_trans DIR INSTITUTION CODE INIT_FILE\n"); return 2; }
    const char *dir = argv[1], *institution = argv[2], *code = argv[3];
    char request[4096], init[4096], ec_token[64], reference[64];

    int32_t rc = yibao_version(out, sizeof out, &needed);
    expect("version", rc, YIBAO_OK, "\"abiVersion\":1");

    FILE *file = fopen(argv[4], "rb");
    if (file == NULL) { perror("init file"); return 2; }
    size_t n = fread(init, 1, sizeof init - 1, file);
    fclose(file);
    init[n] = '\0';
    rc = yibao_ec_trans(dir, init, out, sizeof out, &needed);
    expect("init", rc, YIBAO_OK, "\"code\":\"0000\"");

    /* An ANSI program: GBK in and out. 测试收银员 in GBK. */
    if (yibao_set_charset("GBK") != YIBAO_OK) { printf("FAIL charset\n"); return 1; }
    query(request, sizeof request, institution, code, "\xb2\xe2\xca\xd4\xca\xd5\xd2\xf8\xd4\xb1");
    rc = yibao_ec_trans(dir, request, out, sizeof out, &needed);
    /* 成功 in GBK: the answer came back in the caller's charset. */
    expect("ec.query (GBK)", rc, YIBAO_OK, "\xb3\xc9\xb9\xa6");
    if (!field("ecToken", ec_token, sizeof ec_token) || strncmp(ec_token, "ybp", 3) != 0) {
        printf("FAIL provisional ecToken\n");
        failures++;
    }
    yibao_set_charset("UTF-8");

    query(request, sizeof request, institution, code, "测试收银员");
    rc = yibao_ec_trans(dir, request, out, sizeof out, &needed);
    expect("replayed", rc, YIBAO_REJECTED, "\"reason\":\"replayed\"");

    char *forged = strstr(request, code) + strlen(code) - 1;
    *forged = *forged == '0' ? '1' : '0';
    rc = yibao_ec_trans(dir, request, out, sizeof out, &needed);
    expect("forged", rc, YIBAO_REJECTED, "\"code\":\"1001\"");

    char small[100];
    rc = yibao_ec_trans(dir, request, small, sizeof small, &needed);
    int ok = rc == YIBAO_BUFFER_TOO_SMALL && needed == YIBAO_EC_QUERY_MIN_BUFFER && small[0] == '\0';
    printf("%s buffer too small: %d needed=%d\n", ok ? "ok  " : "FAIL", rc, needed);
    if (!ok) failures++;

    rc = yibao_ec_trans(dir, "{\"transType\":\"yibao.flush\",\"data\":{\"timeoutSecs\":30}}",
                        out, sizeof out, &needed);
    expect("flush", rc, YIBAO_OK, "\"answered\":1");

    snprintf(request, sizeof request,
             "{\"transType\":\"ec.result\",\"data\":{\"ecToken\":\"%s\"}}", ec_token);
    rc = yibao_ec_trans(dir, request, out, sizeof out, &needed);
    expect("ec.result", rc, YIBAO_OK, "\"settled\":true");
    int settled = field("ecToken", reference, sizeof reference) && strncmp(reference, "ybp", 3) != 0;

    rc = yibao_ec_trans(dir, "{\"transType\":\"yibao.close\"}", out, sizeof out, &needed);
    expect("close", rc, YIBAO_OK, NULL);
    if (failures == 0 && settled) printf("OK %s\n", reference);
    return failures == 0 && settled ? 0 : 1;
}
