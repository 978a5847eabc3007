/* The terminal scenario through the C ABI, as a HIS vendor's C code would run it:
 *   check <terminal dir> <institution> <code>
 * open; the code accepted; the same code refused as a replay; a forged copy refused; bad
 * input answered with error codes (null, invalid UTF-8, malformed JSON); status; flush to
 * the running issuer; the visit's settlement reference. Prints "OK <reference>" and exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "yibao_verifier.h"

static int failures = 0;

/* Runs one call's answer through: prints it, checks the status and that `expect` is in it. */
static void expect(const char *what, int32_t got, int32_t want, char *answer, const char *needle) {
    int ok = got == want && answer != NULL && (needle == NULL || strstr(answer, needle) != NULL);
    printf("%s %s: %d %s\n", ok ? "ok  " : "FAIL", what, got, answer ? answer : "(null)");
    if (!ok) failures++;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: check DIR INSTITUTION CODE\n"); return 2; }
    char request[2048], *answer = NULL;
    YibaoTerminal *terminal = NULL;

    if (yibao_abi_version() != 1) { printf("FAIL abi version\n"); return 1; }
    snprintf(request, sizeof request, "{\"dir\": \"%s\"}", argv[1]);
    int32_t rc = yibao_terminal_open(request, &terminal, &answer);
    expect("open", rc, YIBAO_OK, answer, "\"abi_version\":1");
    yibao_string_free(answer);
    if (terminal == NULL) return 1;

    snprintf(request, sizeof request,
             "{\"code\": \"%s\", \"institution\": \"%s\", \"operator\": \"cashier-c\", \"business_type\": \"02121\"}",
             argv[3], argv[2]);
    rc = yibao_check(terminal, request, &answer);
    expect("check", rc, YIBAO_OK, answer, "\"accepted\":true");
    char *queued = answer ? strstr(answer, "\"queued\":") : NULL;
    long seq = queued ? strtol(queued + 9, NULL, 10) : -1;
    yibao_string_free(answer);

    rc = yibao_check(terminal, request, &answer);
    expect("replay", rc, YIBAO_REJECTED, answer, "\"code\":\"replayed\"");
    yibao_string_free(answer);

    /* A forged copy: the last digit changed. */
    char *forged = strstr(request, argv[3]) + strlen(argv[3]) - 1;
    *forged = *forged == '0' ? '1' : '0';
    rc = yibao_check(terminal, request, &answer);
    expect("forged", rc, YIBAO_REJECTED, answer, "\"accepted\":false");
    yibao_string_free(answer);

    rc = yibao_check(terminal, NULL, &answer);
    expect("null request", rc, YIBAO_ERROR, answer, "\"error\":\"null-pointer\"");
    yibao_string_free(answer);
    rc = yibao_check(terminal, "{\"code\": \"\xff\"}", &answer);
    expect("invalid utf-8", rc, YIBAO_ERROR, answer, "\"error\":\"invalid-utf8\"");
    yibao_string_free(answer);
    rc = yibao_check(terminal, "{\"code\": ", &answer);
    expect("malformed json", rc, YIBAO_ERROR, answer, "\"error\":\"malformed-json\"");
    yibao_string_free(answer);
    rc = yibao_check(NULL, "{}", &answer);
    expect("null terminal", rc, YIBAO_ERROR, answer, "\"error\":\"null-pointer\"");
    yibao_string_free(answer);
    rc = yibao_check(terminal, "{}", NULL);
    printf("%s null answer pointer: %d\n", rc == YIBAO_NO_ANSWER ? "ok  " : "FAIL", rc);
    if (rc != YIBAO_NO_ANSWER) failures++;

    rc = yibao_status(terminal, &answer);
    expect("status", rc, YIBAO_OK, answer, "\"queued\":1");
    yibao_string_free(answer);
    rc = yibao_flush(terminal, "{\"timeout_secs\": 30}", &answer);
    expect("flush", rc, YIBAO_OK, answer, "\"answered\":1");
    yibao_string_free(answer);

    snprintf(request, sizeof request, "{\"queued\": %ld}", seq);
    rc = yibao_presentation(terminal, request, &answer);
    expect("settled", rc, YIBAO_OK, answer, "\"outcome\":\"settled\"");
    char *reference = answer ? strstr(answer, "\"reference\":\"") : NULL;
    if (reference) {
        reference += 13;
        *strchr(reference, '"') = '\0';
    }
    if (failures == 0 && reference) printf("OK %s\n", reference);
    yibao_string_free(answer);
    yibao_terminal_close(terminal);
    return failures == 0 && reference ? 0 : 1;
}
