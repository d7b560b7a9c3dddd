/*
 * cmd_version: `hookline version`, the libraries this binary runs with as loaded at run
 * time (not as it was built against): what decides, for instance, whether SCRAM works
 * against a Kafka 4 broker (librdkafka >= 2.6.1), and what a bug report needs.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>
#include <openssl/crypto.h>
#include <stdio.h>

#include "cli/cli.h"

static const char usage[] =
    "Usage: hookline version [--json]\n"
    "\n"
    "Prints the versions of the libraries hookline runs with, as loaded now\n"
    "(LD_LIBRARY_PATH may point at a newer librdkafka than the one it was built with).\n";

int cmd_version(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = {{"json", CLI_OPT_FLAG, &json, false}};
    int parsed = cli_parse_options(argc, argv, usage, opts, CLI_OPTS_N(opts));
    if (parsed >= 0)
        return parsed;
    int pq = PQlibVersion(); /* e.g. 150010 */
    char pq_text[32];
    snprintf(pq_text, sizeof pq_text, "%d.%d", pq / 10000, pq % 10000);
    json_t *row = json_pack("{s:s, s:s, s:s, s:s, s:s}", "librdkafka", rd_kafka_version_str(), "libpq", pq_text,
                            "openssl", OpenSSL_version(OPENSSL_VERSION), "libcurl",
                            curl_version_info(CURLVERSION_NOW)->version, "jansson", jansson_version_str());
    if (!row) {
        cli_error("out of memory");
        return CLI_FAIL;
    }
    int status = cli_print(row, json, "") == 0 ? CLI_OK : CLI_FAIL;
    json_decref(row);
    return status;
}
