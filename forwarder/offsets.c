/* offsets: at-least-once with deliveries finishing out of order. Each partition keeps
 * the messages taken from it in arrival order (a ring of sequence numbers, offsets and
 * "final" flags); when the oldest ones are final their offsets are stored, and the
 * partition's stored offset never passes a message still in flight. A SIGKILL thus
 * re-delivers at most what was in flight and what finished behind it, never loses.
 * A message is tracked by a ticket (partition, sequence number), not by its offset,
 * because a partition taken away and given back can be read again from an earlier
 * offset while the first copies are still in flight. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "forwarder/forwarder.h"

struct entry {
    int64_t offset;
    bool final;
};

struct partition_track {
    char *topic;
    int32_t partition;
    struct entry *ring;
    size_t cap;
    unsigned long long head, tail; /* sequence numbers: [head, tail) are tracked */
    struct partition_track *next;
};

static struct partition_track *tracks;

static struct partition_track *track_of(const char *topic, int32_t partition)
{
    for (struct partition_track *pt = tracks; pt; pt = pt->next)
        if (pt->partition == partition && !strcmp(pt->topic, topic))
            return pt;
    struct partition_track *pt = calloc(1, sizeof *pt);
    if (!pt || !(pt->topic = strdup(topic))) {
        free(pt);
        return NULL;
    }
    pt->partition = partition;
    pt->next = tracks;
    tracks = pt;
    return pt;
}

static struct entry *entry_at(struct partition_track *pt, unsigned long long seq)
{
    return &pt->ring[seq % pt->cap];
}

/* Doubles the ring, keeping every tracked entry at its sequence number. */
static int grow(struct partition_track *pt)
{
    size_t cap = pt->cap ? pt->cap * 2 : 256;
    struct entry *ring = malloc(cap * sizeof *ring);
    if (!ring)
        return -1;
    for (unsigned long long s = pt->head; s < pt->tail; s++)
        ring[s % cap] = *entry_at(pt, s);
    free(pt->ring);
    pt->ring = ring;
    pt->cap = cap;
    return 0;
}

struct offset_ticket offsets_track(const char *topic, int32_t partition, int64_t offset)
{
    struct offset_ticket t = {NULL, 0};
    struct partition_track *pt = track_of(topic, partition);
    if (!pt || (pt->tail - pt->head == pt->cap && grow(pt) < 0)) {
        log_error(NULL, "out of memory tracking offsets: this message's offset will not be stored");
        return t;
    }
    *entry_at(pt, pt->tail) = (struct entry){offset, false};
    t.pt = pt;
    t.seq = pt->tail++;
    return t;
}

int64_t offsets_done(struct offset_ticket t, const char **topic, int32_t *partition)
{
    struct partition_track *pt = t.pt;
    if (!pt || t.seq < pt->head || t.seq >= pt->tail)
        return -1;
    entry_at(pt, t.seq)->final = true;
    int64_t next = -1;
    while (pt->head < pt->tail && entry_at(pt, pt->head)->final)
        next = entry_at(pt, pt->head++)->offset + 1;
    *topic = pt->topic;
    *partition = pt->partition;
    return next;
}

void offsets_shutdown(void)
{
    while (tracks) {
        struct partition_track *pt = tracks;
        tracks = pt->next;
        free(pt->ring);
        free(pt->topic);
        free(pt);
    }
}
