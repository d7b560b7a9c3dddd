/*
 * kafka: librdkafka configuration and the producer/consumer patterns every stage uses.
 *
 * Every HOOKLINE_KAFKA_<NAME>=value variable is passed to rd_kafka_conf_set as
 * <name> with underscores turned into dots (HOOKLINE_KAFKA_SECURITY_PROTOCOL ->
 * security.protocol), after hookline's own defaults, so an operator can set any
 * librdkafka property without a code change. HOOKLINE_KAFKA_BROKERS is the
 * bootstrap list.
 */
#ifndef HOOKLINE_KAFKA_H
#define HOOKLINE_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* A new conf with bootstrap.servers, client.id and the HOOKLINE_KAFKA_* overrides
 * (applied here, so every client has them; a setting the caller makes afterwards wins
 * over the operator's). Returns NULL after writing the problem into errstr. Caller owns
 * the conf (until a successful rd_kafka_new takes it). */
rd_kafka_conf_t *kafka_conf_new(const char *client_id, char *errstr, size_t errlen);

/* Applies every HOOKLINE_KAFKA_* override to conf (again): a client that sets its own
 * defaults after kafka_conf_new calls it last, so the operator's settings win. 0 or -1
 * with errstr. */
int kafka_conf_apply_env(rd_kafka_conf_t *conf, char *errstr, size_t errlen);

/* Sets key=value on conf; returns 0 or -1 with errstr. */
int kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *errstr, size_t errlen);

/* A producer for the pipeline: idempotent (hence acks=all), lz4, small linger.
 * dr_cb receives delivery reports (on the thread that polls). opaque is set as the
 * conf opaque. NULL on error with errstr. */
rd_kafka_t *kafka_producer_new(const char *client_id, void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                               void *opaque, char *errstr, size_t errlen);

/* A consumer in group_id subscribed to topic: range assignment (see kafka.c), auto offset store
 * off (the caller stores offset+1 only when a message's outcome is final), auto commit
 * of stored offsets every 200 ms (what a SIGKILL makes the next owner read again is what
 * was in flight plus at most that much), auto.offset.reset=earliest. NULL on error with
 * errstr. */
rd_kafka_t *kafka_consumer_new(const char *client_id, const char *group_id, const char *topic, char *errstr,
                               size_t errlen);
/* The same, subscribed to n topics. */
rd_kafka_t *kafka_consumer_new_topics(const char *client_id, const char *group_id, const char *const *topics, size_t n,
                                      char *errstr, size_t errlen);

/* Stores offset+1 of rkm for commit. Returns 0 or -1. */
int kafka_store_offset(rd_kafka_t *rk, const rd_kafka_message_t *rkm);
/* Stores next (the offset to read next) for topic/partition. Returns 0 or -1 (for
 * instance when the partition is no longer assigned). */
int kafka_store_next_offset(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t next);

/* Asks for the offsets stored so far to be committed now, without waiting for the
 * answer (a failed commit is retried by the next one or by the auto commit). A batch
 * consumer calls it once a batch's offsets are stored, so that a crash re-reads only the
 * batch in progress. Returns 0, or -1 when the request could not be queued (nothing
 * stored is not an error). */
int kafka_commit_stored(rd_kafka_t *rk);

/* kafka_commit_stored at most once per min_interval_ms on this thread: a consumer that
 * finishes many small batches a second asks for a commit (a write the broker replicates)
 * every interval, not every batch; what it skips, the next call, the auto commit or the
 * consumer's close commits. A crash then re-reads at most the batches of one interval. */
int kafka_commit_stored_every(rd_kafka_t *rk, int min_interval_ms);
/* The batch consumers' interval: half the auto commit's (auto.commit.interval.ms 200). */
#define KAFKA_BATCH_COMMIT_MS 100

/* Consumes up to max messages into batch: waits up to window_ms for the first, then takes
 * those that follow with no gap over KAFKA_BATCH_GAP_MS (less when a stop is requested).
 * A batch is thus what came while the previous one was being worked on: small and quick
 * when traffic is light, up to max under load, never a whole window's wait per batch.
 * Consumer errors are logged and skipped. Returns how many. */
#define KAFKA_BATCH_GAP_MS 2
size_t kafka_poll_batch(rd_kafka_t *consumer, rd_kafka_message_t **batch, size_t max, int window_ms);

/* Waits ms milliseconds (less when a stop is requested) without leaving the group: a
 * consumer whose stage waits for the database longer than max.poll.interval.ms would
 * otherwise be thrown out of its group, and its partitions handed around. Pauses every
 * assigned partition and keeps polling; a message that arrives anyway (a partition
 * assigned meanwhile) is rewound so that it is read again later, never skipped. The
 * messages the caller already holds stay its own. Call kafka_consumer_release when the
 * wait is over (a held consumer otherwise reads nothing more). Consumer thread only. */
void kafka_consumer_hold(rd_kafka_t *consumer, int ms);
void kafka_consumer_release(rd_kafka_t *consumer);

/* Whether a produce error is about the message itself (too large for the topic, a record
 * the broker finds invalid), which re-sending cannot cure, rather than about the moment
 * (the broker, the network, an ACL or a topic an operator can fix): the first is a
 * permanent failure, the second a transient one. A size error from the broker may be
 * the batch's (several messages together over the topic's max.message.bytes): only one
 * sent alone proves it is the message's. */
bool kafka_err_refuses_message(rd_kafka_resp_err_t err);

/* A producer for kafka_send_alone (its delivery reports are its own), or NULL with errstr. */
rd_kafka_t *kafka_alone_producer_new(const char *client_id, char *errstr, size_t errlen);
/* rkm (a message another producer's delivery report gave back: its topic, key, value and
 * headers) produced again on alone, a producer made by kafka_alone_producer_new with
 * nothing else in flight, and waited for up to timeout_ms: Kafka's answer for this
 * message alone (__TIMED_OUT when none came). Threads may share alone: each then waits
 * for the others' copies too, and a timeout purges them all. */
rd_kafka_resp_err_t kafka_send_alone(rd_kafka_t *alone, const rd_kafka_message_t *rkm, int timeout_ms);

/* True if the cluster answered a metadata request within timeout_ms. */
bool kafka_reachable(rd_kafka_t *rk, int timeout_ms);

/* The number of partitions of topic, or -1 with errstr (it does not exist, Kafka does
 * not answer). When parts is not NULL, *parts gets a new list of them, each from its
 * beginning. Metadata requests never create topics. */
int kafka_topic_partitions(rd_kafka_t *rk, const char *topic, rd_kafka_topic_partition_list_t **parts, int timeout_ms,
                           char *errstr, size_t errlen);

/* Creates the topics that are missing (others are left alone) with the admin API.
 * Returns 0 when all exist afterwards, -1 with errstr. */
int kafka_ensure_topics(rd_kafka_t *rk, const char *const *topics, size_t n, int partitions, int replication,
                        char *errstr, size_t errlen);

#endif
