/*
 * ssrf: which addresses the forwarder and the syncer may connect to. A webhook or
 * runner URL is chosen by a tenant, so without this check hookline could be made to
 * POST into its own network.
 * Every address a connection is about to use (after DNS, so a name that resolves to an
 * internal address is caught, and so is DNS rebinding) must be public, or inside an
 * operator's allow-list of CIDRs.
 *
 * Refused unless allowed: loopback, private (RFC 1918, fc00::/7), link-local, CGNAT
 * (100.64/10), multicast, unspecified, broadcast and other reserved ranges; IPv4-mapped
 * and NAT64 IPv6 addresses are judged by the IPv4 address they carry.
 * Pure functions; thread-safe once the policy is built.
 */
#ifndef HOOKLINE_SSRF_H
#define HOOKLINE_SSRF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define SSRF_MAX_ALLOW 32

struct ssrf_cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    int prefix;
};

struct ssrf_policy {
    struct ssrf_cidr allow[SSRF_MAX_ALLOW];
    size_t nallow;
};

/* Parses "127.0.0.0/8, ::1/128, 10.1.2.3" (empty: allow nothing extra). Returns 0, or -1
 * with the offending item in err. */
int ssrf_policy_parse(const char *cidrs, struct ssrf_policy *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Why the address would be refused ("loopback", "private", ...), or NULL when it is a
 * public address. Ignores the allow-list. */
const char *ssrf_classify(const struct sockaddr *sa);

/* True when a connection to sa is allowed under policy. */
bool ssrf_allowed(const struct ssrf_policy *policy, const struct sockaddr *sa);

#endif
