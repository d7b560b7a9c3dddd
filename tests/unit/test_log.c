/* Unit tests of common/log.c: levels are checked before the arguments are evaluated, the
 * errno variant says why, and one event stays one line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static int evaluated;

static const char *costly(void)
{
    evaluated++;
    return "x";
}

/* Runs fn with stderr sent to a pipe; returns what it wrote (static buffer). */
static const char *captured(void (*fn)(void))
{
    static char buf[8192];
    int fds[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(fds), 0);
    dup2(fds[1], STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void below_the_level(void)
{
    log_debug("w-1", "%s", costly());
}

static void with_errno(void)
{
    errno = ENOENT;
    log_warn_errno("w-2", "opening %s", "/nowhere");
}

static void two_lines_in_one(void)
{
    log_error(NULL, "first\nX-Injected: second");
}

static void lines_below_the_level_cost_nothing(void **state)
{
    (void)state;
    log_init("test", "info", "text");
    evaluated = 0;
    assert_string_equal(captured(below_the_level), "");
    assert_int_equal(evaluated, 0);
    log_init("test", "debug", "text");
    assert_non_null(strstr(captured(below_the_level), "DEBUG test [w-1] x\n"));
    assert_int_equal(evaluated, 1);
}

static void the_errno_variant_says_why(void **state)
{
    (void)state;
    log_init("test", "info", "text");
    const char *out = captured(with_errno);
    assert_non_null(strstr(out, "WARN  test [w-2] opening /nowhere: No such file or directory\n"));
}

static void an_event_is_one_line(void **state)
{
    (void)state;
    log_init("test", "info", "text");
    const char *out = captured(two_lines_in_one);
    assert_non_null(strstr(out, "first X-Injected: second\n"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_below_the_level_cost_nothing),
        cmocka_unit_test(the_errno_variant_says_why),
        cmocka_unit_test(an_event_is_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
