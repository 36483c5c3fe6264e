/*
 * flexc: one flexd call from plain C (C11, POSIX sockets, libprotobuf-c, liblz4).
 *
 *   flexc --target HOST:PORT [--api-key KEY] [--stream] [--timeout SECONDS] REQUEST.json
 *   flexc --target HOST:PORT [--api-key KEY] [--stream] [--timeout SECONDS] --typed
 *         --provider PROVIDER --api API --model MODEL --start-within START_WITHIN
 *         [--request-id ID] [--provider-key-env VAR] [--system TEXT] --prompt TEXT
 *         [--max-output-tokens N] [--temperature T]
 *
 * REQUEST.json carries the provider's native JSON body, sent as written. --typed sends a typed,
 * provider-neutral chat request instead (chat.proto, built from the protobuf-c structs by
 * typed_chat below), which flexd translates for the provider and answers typed: the text, then
 * the finish reason and the usage (streamed: text / tool_call / reasoning deltas, then finish).
 *
 * It speaks Proto/PROTOCOL.md: the preface and HELLO (offering LZ4), one call on stream 1
 * (HEADERS, then the InferenceRequest MESSAGE with END_STREAM), then it reads the answer:
 * HEADERS, MESSAGE frames (LZ4-decompressed when flagged; a WINDOW_UPDATE returns each one's
 * credit) and the TRAILERS. It prints the provider's answer (or each streamed event), then the
 * savings record as one JSON line and the status, and exits with the status code (0 for OK).
 *
 * Exit status: 0 OK; 1-16 the call's non-OK status code (from the server's TRAILERS or GOAWAY, or
 * the client's own: 14 UNAVAILABLE when the connection fails or closes, 4 DEADLINE_EXCEEDED for
 * --timeout, 13 INTERNAL when the server breaks the protocol); 64 bad usage or REQUEST.json.
 *
 * The flexd API key may also come from the FLEXD_API_KEY environment variable (a command line is
 * visible to other users); a typed call's provider key comes only from the environment
 * (--provider-key-env). Keys are never printed.
 *
 * Build: see Makefile (or tools/flexc/README.md, "Building").
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>
#include <protobuf-c/protobuf-c.h>

#include "flexinference/v1/call.pb-c.h"
#include "flexinference/v1/connection.pb-c.h"
#include "flexinference/v1/inference.pb-c.h"

/* ---- Protocol constants (PROTOCOL.md sections 2, 3, 7, 8) ---- */

enum { FRAME_HELLO, FRAME_HEADERS, FRAME_MESSAGE, FRAME_TRAILERS, FRAME_CANCEL, FRAME_PING, FRAME_GOAWAY, FRAME_WINDOW_UPDATE };
enum { FLAG_END_STREAM = 0x01, FLAG_COMPRESSED = 0x02, FLAG_ACK = 0x01 };

static const char PREFACE[8] = {'F', 'L', 'E', 'X', 'D', '/', '1', '\n'};
#define HEADER_SIZE 10
#define MAX_MESSAGE_SIZE (4u * 1024u * 1024u) /* what flexc accepts: the protocol default */
#define COMPRESSION_THRESHOLD 1024u
#define STREAM 1u
#define METHOD_COMPLETE "flexinference.v1.Inference/Complete"
#define METHOD_STREAM "flexinference.v1.Inference/Stream"

#define EXIT_DEADLINE 4
#define EXIT_INTERNAL 13
#define EXIT_UNAVAILABLE 14
#define EXIT_USAGE 64

/* ---- Errors ---- */

static void die(int status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("flexc: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(status);
}

static void *checked_malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) die(EXIT_INTERNAL, "out of memory");
    return p;
}

/* ---- The request file: a small strict JSON reader ---- */

typedef struct {
    const char *p, *end;
} Json;

static void json_ws(Json *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int json_expect(Json *j, char c) {
    json_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

static int hex4(const char *p, unsigned *out) {
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return 0;
        *out = *out * 16 + (unsigned)v;
    }
    return 1;
}

static size_t put_utf8(char *out, unsigned cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a JSON string; when out is not NULL, stores it decoded (NUL-terminated, malloc'd).
 * U+0000 is refused: the protocol's strings cannot carry it. */
static int json_string(Json *j, char **out) {
    json_ws(j);
    if (j->p >= j->end || *j->p != '"') return 0;
    j->p++;
    /* The decoded text is never longer than its escaped form: size it by the raw span. */
    const char *quote = j->p;
    while (quote < j->end && *quote != '"') quote += (*quote == '\\' && quote + 1 < j->end) ? 2 : 1;
    char *text = out ? checked_malloc((size_t)(quote - j->p) + 1) : NULL;
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        unsigned char c = (unsigned char)*j->p++;
        if (c < 0x20) goto fail;
        if (c != '\\') {
            if (text) text[n++] = (char)c;
            continue;
        }
        if (j->p >= j->end) goto fail;
        char e = *j->p++;
        unsigned cp;
        switch (e) {
        case '"': case '\\': case '/': cp = (unsigned)e; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (j->end - j->p < 4 || !hex4(j->p, &cp)) goto fail;
            j->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00) { /* a surrogate pair */
                unsigned low;
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, &low) || low < 0xDC00 || low > 0xDFFF) goto fail;
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else if (cp >= 0xDC00 && cp < 0xE000) {
                goto fail;
            }
            if (cp == 0) goto fail;
            break;
        default:
            goto fail;
        }
        if (text) n += put_utf8(text + n, cp);
    }
    if (j->p >= j->end) goto fail;
    j->p++; /* the closing quote */
    if (out) { text[n] = '\0'; *out = text; }
    return 1;
fail:
    free(text);
    return 0;
}

/* Skips (and so validates) one JSON value. */
static int json_skip(Json *j, int depth) {
    if (depth > 64) return 0;
    json_ws(j);
    if (j->p >= j->end) return 0;
    char c = *j->p;
    if (c == '"') return json_string(j, NULL);
    if (c == '{' || c == '[') {
        char closing = c == '{' ? '}' : ']';
        j->p++;
        if (json_expect(j, closing)) return 1;
        do {
            if (c == '{' && !(json_string(j, NULL) && json_expect(j, ':'))) return 0;
            if (!json_skip(j, depth + 1)) return 0;
        } while (json_expect(j, ','));
        return json_expect(j, closing);
    }
    static const char *literals[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t len = strlen(literals[i]);
        if ((size_t)(j->end - j->p) >= len && memcmp(j->p, literals[i], len) == 0) { j->p += len; return 1; }
    }
    const char *start = j->p; /* a number */
    if (j->p < j->end && *j->p == '-') j->p++;
    while (j->p < j->end && (isdigit((unsigned char)*j->p) || *j->p == '.' || *j->p == 'e' || *j->p == 'E' || *j->p == '+' || *j->p == '-')) j->p++;
    return j->p > start && isdigit((unsigned char)j->p[-1]);
}

typedef struct {
    char *request_id, *provider, *api, *model, *start_within, *provider_key, *provider_key_env;
    const char *body; /* the native JSON body, as written in the file */
    size_t body_len;
} RequestFile;

static void read_request_file(const char *path, char **contents, RequestFile *r) {
    FILE *f = fopen(path, "rb");
    if (!f) die(EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *data = checked_malloc(cap);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            if (cap >= MAX_MESSAGE_SIZE) die(EXIT_USAGE, "%s is larger than %u bytes", path, MAX_MESSAGE_SIZE);
            cap *= 2;
            data = realloc(data, cap);
            if (!data) die(EXIT_INTERNAL, "out of memory");
        }
    }
    fclose(f);
    *contents = data;

    memset(r, 0, sizeof *r);
    Json j = {data, data + n};
    if (!json_expect(&j, '{')) die(EXIT_USAGE, "%s: expected a JSON object", path);
    if (!json_expect(&j, '}')) {
        do {
            char *key = NULL;
            if (!json_string(&j, &key) || !json_expect(&j, ':')) die(EXIT_USAGE, "%s: malformed JSON near byte %ld", path, (long)(j.p - data));
            char **field = NULL;
            if (strcmp(key, "request_id") == 0) field = &r->request_id;
            else if (strcmp(key, "provider") == 0) field = &r->provider;
            else if (strcmp(key, "api") == 0) field = &r->api;
            else if (strcmp(key, "model") == 0) field = &r->model;
            else if (strcmp(key, "start_within") == 0) field = &r->start_within;
            else if (strcmp(key, "provider_key") == 0) field = &r->provider_key;
            else if (strcmp(key, "provider_key_env") == 0) field = &r->provider_key_env;
            if (field) {
                if (!json_string(&j, field)) die(EXIT_USAGE, "%s: \"%s\" must be a string", path, key);
            } else if (strcmp(key, "body") == 0) {
                json_ws(&j);
                r->body = j.p;
                if (!json_skip(&j, 0)) die(EXIT_USAGE, "%s: \"body\" is not valid JSON", path);
                r->body_len = (size_t)(j.p - r->body);
            } else {
                die(EXIT_USAGE, "%s: unknown key \"%s\"", path, key);
            }
            free(key);
        } while (json_expect(&j, ','));
        if (!json_expect(&j, '}')) die(EXIT_USAGE, "%s: malformed JSON near byte %ld", path, (long)(j.p - data));
    }
    json_ws(&j);
    if (j.p != j.end) die(EXIT_USAGE, "%s: trailing bytes after the JSON object", path);
    if (!r->provider || !r->api || !r->model || !r->start_within || !r->body)
        die(EXIT_USAGE, "%s: provider, api, model, start_within and body are required", path);
}

static int lookup(const char *name, const char *const names[], int count) {
    for (int i = 0; i < count; i++)
        if (strcmp(name, names[i]) == 0) return i + 1; /* the enums start at 1 after UNSPECIFIED */
    return 0;
}

/* ---- The typed request (--typed) ---- */

/* example: typed-chat-request */
/* A typed chat request (chat.proto) built from the protobuf-c structs: an optional system
 * message, the user's prompt, and optional limits (max_output_tokens 0 and a negative temperature
 * leave them unset). Nothing is allocated: the structs live in *t and the strings stay the
 * caller's, so both must outlive packing the request. */
typedef struct {
    Flexinference__V1__ContentPart parts[2], *part_list[2];
    Flexinference__V1__ChatMessage messages[2], *message_list[2];
    Flexinference__V1__ChatRequest chat;
} TypedChat;

static Flexinference__V1__ChatRequest *typed_chat(TypedChat *t, const char *system, const char *prompt,
                                                   uint32_t max_output_tokens, double temperature) {
    const char *texts[2] = {system, prompt};
    const Flexinference__V1__Role roles[2] = {FLEXINFERENCE__V1__ROLE__ROLE_SYSTEM, FLEXINFERENCE__V1__ROLE__ROLE_USER};
    size_t n = 0;
    for (size_t i = 0; i < 2; i++) {
        if (!texts[i]) continue;
        flexinference__v1__content_part__init(&t->parts[n]);
        t->parts[n].part_case = FLEXINFERENCE__V1__CONTENT_PART__PART_TEXT;
        t->parts[n].text = (char *)texts[i];
        t->part_list[n] = &t->parts[n];
        flexinference__v1__chat_message__init(&t->messages[n]);
        t->messages[n].role = roles[i];
        t->messages[n].n_content = 1;
        t->messages[n].content = &t->part_list[n];
        t->message_list[n] = &t->messages[n];
        n++;
    }
    flexinference__v1__chat_request__init(&t->chat);
    t->chat.n_messages = n;
    t->chat.messages = t->message_list;
    if (max_output_tokens > 0) {
        t->chat.optional_max_output_tokens_case = FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_MAX_OUTPUT_TOKENS_MAX_OUTPUT_TOKENS;
        t->chat.max_output_tokens = max_output_tokens;
    }
    if (temperature >= 0) {
        t->chat.optional_temperature_case = FLEXINFERENCE__V1__CHAT_REQUEST__OPTIONAL_TEMPERATURE_TEMPERATURE;
        t->chat.temperature = temperature;
    }
    return &t->chat;
}
/* end example */

/* ---- Frames ---- */

typedef struct {
    int fd;
    int lz4;                 /* LZ4 negotiated */
    uint32_t peer_max;       /* the server's max_message_size */
    struct timespec deadline; /* tv_sec 0: none */
} Connection;

static int remaining_ms(const Connection *c) {
    if (c->deadline.tv_sec == 0) return -1;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long ms = (long long)(c->deadline.tv_sec - now.tv_sec) * 1000 + (c->deadline.tv_nsec - now.tv_nsec) / 1000000;
    return ms < 0 ? 0 : (ms > 1000000000 ? 1000000000 : (int)ms);
}

static void write_all(Connection *c, const uint8_t *data, size_t n) {
    while (n > 0) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) die(EXIT_UNAVAILABLE, "write to the server failed: %s", strerror(errno));
        data += w;
        n -= (size_t)w;
    }
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void send_frame(Connection *c, uint8_t type, uint8_t flags, uint32_t stream, const uint8_t *payload, size_t length) {
    uint8_t header[HEADER_SIZE];
    put_u32(header, (uint32_t)length);
    header[4] = type;
    header[5] = flags;
    put_u32(header + 6, stream);
    write_all(c, header, sizeof header);
    if (length) write_all(c, payload, length);
}

/* Packs a protobuf message and sends it as a frame. */
static void send_message(Connection *c, uint8_t type, uint8_t flags, uint32_t stream, const ProtobufCMessage *message) {
    size_t size = protobuf_c_message_get_packed_size(message);
    uint8_t *buffer = checked_malloc(size);
    protobuf_c_message_pack(message, buffer);
    send_frame(c, type, flags, stream, buffer, size);
    free(buffer);
}

/* The request MESSAGE: LZ4-compressed when negotiated, large enough, and smaller (section 7). */
static void send_request(Connection *c, const uint8_t *payload, size_t size) {
    if (size > c->peer_max) die(EXIT_USAGE, "the request (%zu bytes) is larger than the server accepts (%u)", size, c->peer_max);
    if (c->lz4 && size >= COMPRESSION_THRESHOLD) {
        int bound = LZ4_compressBound((int)size);
        uint8_t *out = checked_malloc((size_t)bound + 4);
        int n = LZ4_compress_default((const char *)payload, (char *)out + 4, (int)size, bound);
        if (n > 0 && (size_t)n + 4 < size) {
            put_u32(out, (uint32_t)size);
            send_frame(c, FRAME_MESSAGE, FLAG_END_STREAM | FLAG_COMPRESSED, STREAM, out, (size_t)n + 4);
            free(out);
            return;
        }
        free(out);
    }
    send_frame(c, FRAME_MESSAGE, FLAG_END_STREAM, STREAM, payload, size);
}

static int call_opened; /* HEADERS were sent: a CANCEL may name the stream */

/* The --timeout passed: abandon the call (section 5.5) and exit DEADLINE_EXCEEDED. */
static void send_cancel_and_exit_on_deadline(Connection *c) {
    if (call_opened) {
        Flexinference__V1__Cancel cancel = FLEXINFERENCE__V1__CANCEL__INIT;
        cancel.code = FLEXINFERENCE__V1__STATUS_CODE__STATUS_CODE_DEADLINE_EXCEEDED;
        cancel.reason = "flexc --timeout passed";
        send_message(c, FRAME_CANCEL, 0, STREAM, &cancel.base);
    }
    printf("status: DEADLINE_EXCEEDED (deadline_exceeded): the --timeout passed\n");
    fflush(stdout);
    exit(EXIT_DEADLINE);
}

/* Reads exactly n bytes; returns 0 at a clean EOF before the first byte. */
static int read_full(Connection *c, uint8_t *data, size_t n) {
    size_t done = 0;
    while (done < n) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int ready = poll(&p, 1, remaining_ms(c));
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) send_cancel_and_exit_on_deadline(c);
        ssize_t r = recv(c->fd, data + done, n - done, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) die(EXIT_UNAVAILABLE, "read from the server failed: %s", strerror(errno));
        if (r == 0) {
            if (done == 0) return 0;
            die(EXIT_UNAVAILABLE, "the connection closed in the middle of a frame");
        }
        done += (size_t)r;
    }
    return 1;
}

typedef struct {
    uint8_t type, flags;
    uint32_t stream;
    uint32_t wire_length; /* as sent: what flow control counts */
    uint8_t *payload;     /* decompressed; malloc'd */
    size_t length;
} Frame;

/* Reads one frame, checking its length before reading the payload (section 3.1) and
 * decompressing a COMPRESSED MESSAGE into exactly its declared size (section 7). */
static int read_frame(Connection *c, Frame *f) {
    uint8_t header[HEADER_SIZE];
    if (!read_full(c, header, sizeof header)) return 0;
    f->wire_length = get_u32(header);
    f->type = header[4];
    f->flags = header[5];
    f->stream = get_u32(header + 6);
    if (f->wire_length > MAX_MESSAGE_SIZE) die(EXIT_INTERNAL, "protocol violation: a frame of %u bytes, over %u", f->wire_length, MAX_MESSAGE_SIZE);
    uint8_t *raw = checked_malloc(f->wire_length);
    if (f->wire_length && !read_full(c, raw, f->wire_length)) die(EXIT_UNAVAILABLE, "the connection closed in the middle of a frame");
    if (f->type == FRAME_MESSAGE && (f->flags & FLAG_COMPRESSED)) {
        if (!c->lz4) die(EXIT_INTERNAL, "protocol violation: compressed MESSAGE without LZ4 negotiated");
        if (f->wire_length < 4) die(EXIT_INTERNAL, "protocol violation: compressed MESSAGE without its length");
        uint32_t declared = get_u32(raw);
        if (declared == 0 || declared > MAX_MESSAGE_SIZE || (uint64_t)declared > 255ull * (f->wire_length - 4))
            die(EXIT_INTERNAL, "protocol violation: compressed MESSAGE declares %u bytes", declared);
        f->payload = checked_malloc(declared);
        int n = LZ4_decompress_safe((const char *)raw + 4, (char *)f->payload, (int)(f->wire_length - 4), (int)declared);
        if (n < 0 || (uint32_t)n != declared) die(EXIT_INTERNAL, "protocol violation: corrupt LZ4 payload");
        f->length = declared;
        free(raw);
    } else {
        f->payload = raw;
        f->length = f->wire_length;
    }
    return 1;
}

/* ---- Printing ---- */

/* An enum value's name without its prefix ("PROVIDER_OPENAI" -> "openai"), lower-cased if asked. */
static const char *enum_name(const ProtobufCEnumDescriptor *descriptor, int value, const char *prefix, int lower) {
    static char buffers[4][48];
    static int next;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(descriptor, value);
    if (!v) return "unknown";
    const char *name = v->name;
    if (strncmp(name, prefix, strlen(prefix)) == 0) name += strlen(prefix);
    char *out = buffers[next++ % 4];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof buffers[0]; i++) out[i] = lower ? (char)tolower((unsigned char)name[i]) : name[i];
    out[i] = '\0';
    return out;
}

/* The fallback reason's name: revision 1.2 refines capacity and start timeout with
 * fallback_predicted (the adaptive flex policy's decisions; PROTOCOL.md, section 16). */
static const char *fallback_name(int reason, protobuf_c_boolean predicted) {
    if (predicted && reason == FLEXINFERENCE__V1__FALLBACK_REASON__FALLBACK_REASON_FLEX_CAPACITY) return "flex_scarce";
    if (predicted && reason == FLEXINFERENCE__V1__FALLBACK_REASON__FALLBACK_REASON_FLEX_START_TIMEOUT) return "flex_predicted_late";
    return enum_name(&flexinference__v1__fallback_reason__descriptor, reason, "FALLBACK_REASON_", 1);
}

static const char *status_name(int code) {
    return enum_name(&flexinference__v1__status_code__descriptor, code, "STATUS_CODE_", 0);
}

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

/* Token usage as one JSON object: {"input":9,"cached_input":0,...}. */
static void print_tokens(const Flexinference__V1__TokenUsage *t) {
    printf("{\"input\":%llu,\"cached_input\":%llu,\"cache_write\":%llu,\"cache_write_1h\":%llu,\"output\":%llu,\"reasoning\":%llu}",
           (unsigned long long)t->input_tokens, (unsigned long long)t->cached_input_tokens,
           (unsigned long long)t->cache_write_tokens, (unsigned long long)t->cache_write_1h_tokens,
           (unsigned long long)t->output_tokens, (unsigned long long)t->reasoning_tokens);
}

static void print_savings(const Flexinference__V1__SavingsRecord *s) {
    printf("savings: {\"request_id\":");
    print_json_string(s->request_id);
    printf(",\"provider\":\"%s\"", enum_name(&flexinference__v1__provider__descriptor, s->provider, "PROVIDER_", 1));
    printf(",\"api\":\"%s\",\"model\":", enum_name(&flexinference__v1__api__descriptor, s->api, "API_", 1));
    print_json_string(s->model);
    printf(",\"start_within\":");
    print_json_string(s->start_within);
    printf(",\"tier_requested\":\"%s\"", enum_name(&flexinference__v1__tier__descriptor, s->tier_requested, "TIER_", 1));
    printf(",\"tier_served\":\"%s\",\"tier_served_reported\":", enum_name(&flexinference__v1__tier__descriptor, s->tier_served, "TIER_", 1));
    print_json_string(s->tier_served_reported);
    printf(",\"fell_back\":%s,\"fallback_reason\":\"%s\"", s->fell_back ? "true" : "false",
           fallback_name(s->fallback_reason, s->fallback_predicted));
    printf(",\"flex_attempts\":%u,\"flex_wait_us\":%llu,\"time_to_start_us\":%llu", s->flex_attempts,
           (unsigned long long)s->flex_wait_us, (unsigned long long)s->time_to_start_us);
    if (s->tokens) {
        printf(",\"tokens\":");
        print_tokens(s->tokens);
    }
    printf(",\"standard_cost_picousd\":%lld,\"actual_cost_picousd\":%lld,\"saved_picousd\":%lld,\"fee_picousd\":%lld,\"price_date\":",
           (long long)s->standard_cost_picousd, (long long)s->actual_cost_picousd, (long long)s->saved_picousd, (long long)s->fee_picousd);
    print_json_string(s->price_date);
    printf("}\n");
}

/* Prints the status; returns the exit status for it. */
static int print_status(const Flexinference__V1__Status *status) {
    int code = status ? status->code : 0;
    printf("status: %s", status_name(code));
    if (status && status->error_code[0]) printf(" (%s)", status->error_code);
    if (status && status->message[0]) printf(": %s", status->message);
    putchar('\n');
    if (status && status->upstream) {
        const Flexinference__V1__UpstreamError *u = status->upstream;
        printf("upstream: http_status=%u type=%s code=%s message=%s\n", u->http_status, u->type, u->code, u->message);
    }
    return code;
}

/* The end of a typed answer: "finish: stop (end_turn)", then "usage: {...}". */
static void print_finish(Flexinference__V1__FinishReason reason, const char *native_reason, const Flexinference__V1__TokenUsage *usage) {
    printf("finish: %s", enum_name(&flexinference__v1__finish_reason__descriptor, reason, "FINISH_REASON_", 1));
    if (native_reason[0]) printf(" (%s)", native_reason);
    putchar('\n');
    if (usage) {
        printf("usage: ");
        print_tokens(usage);
        putchar('\n');
    }
}

/* A typed unary answer: the text as it is, then what else the model returned, the finish and the usage. */
static void print_chat_result(const Flexinference__V1__ChatResult *r) {
    if (r->text[0]) printf("%s\n", r->text);
    if (r->refusal[0]) printf("refusal: %s\n", r->refusal);
    if (r->reasoning_summary[0]) printf("reasoning: %s\n", r->reasoning_summary);
    for (size_t i = 0; i < r->n_tool_calls; i++)
        printf("tool_call: id=%s name=%s arguments=%s\n", r->tool_calls[i]->id, r->tool_calls[i]->name, r->tool_calls[i]->arguments_json);
    print_finish(r->finish_reason, r->native_finish_reason, r->usage);
}

static void print_event(const Flexinference__V1__StreamEvent *e) {
    switch (e->event_case) {
    case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_ROUTE:
        printf("route: tier=%s fell_back=%s fallback_reason=%s flex_wait_us=%llu\n",
               enum_name(&flexinference__v1__tier__descriptor, e->route->tier, "TIER_", 1), e->route->fell_back ? "true" : "false",
               fallback_name(e->route->fallback_reason, e->route->fallback_predicted),
               (unsigned long long)e->route->flex_wait_us);
        break;
    case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_NATIVE:
        if (e->native->event[0]) printf("event: %s\n", e->native->event);
        printf("data: %.*s\n\n", (int)e->native->data.len, (const char *)e->native->data.data);
        break;
    case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_TEXT:
        printf("text: %s\n", e->text->text);
        break;
    case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_REASONING:
        printf("reasoning: %s\n", e->reasoning->text);
        break;
    case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_TOOL_CALL:
        printf("tool_call: index=%u id=%s name=%s arguments=%s\n", e->tool_call->index, e->tool_call->id, e->tool_call->name,
               e->tool_call->arguments_fragment);
        break;
    case FLEXINFERENCE__V1__STREAM_EVENT__EVENT_FINISH:
        print_finish(e->finish->finish_reason, e->finish->native_finish_reason, e->finish->usage);
        break;
    default:
        die(EXIT_INTERNAL, "protocol violation: a StreamEvent with no event");
    }
}

/* ---- The call ---- */

static Connection connect_to(const char *target) {
    const char *colon = strrchr(target, ':');
    if (!colon || colon == target || !colon[1]) die(EXIT_USAGE, "--target must be HOST:PORT, not %s", target);
    char host[256];
    size_t host_len = (size_t)(colon - target);
    if (host_len >= sizeof host) die(EXIT_USAGE, "--target host is too long");
    memcpy(host, target, host_len);
    host[host_len] = '\0';

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *addresses;
    int rc = getaddrinfo(host, colon + 1, &hints, &addresses);
    if (rc != 0) die(EXIT_UNAVAILABLE, "cannot resolve %s: %s", target, gai_strerror(rc));
    Connection c = {.fd = -1, .peer_max = MAX_MESSAGE_SIZE};
    for (struct addrinfo *a = addresses; a && c.fd < 0; a = a->ai_next) {
        c.fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (c.fd >= 0 && connect(c.fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(c.fd);
            c.fd = -1;
        }
    }
    freeaddrinfo(addresses);
    if (c.fd < 0) die(EXIT_UNAVAILABLE, "cannot connect to %s: %s", target, strerror(errno));
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

/* Preface, our HELLO, and the server's answer (section 4). */
static void handshake(Connection *c) {
    write_all(c, (const uint8_t *)PREFACE, sizeof PREFACE);
    uint32_t versions[] = {1};
    Flexinference__V1__Compression compression[] = {FLEXINFERENCE__V1__COMPRESSION__COMPRESSION_LZ4};
    Flexinference__V1__Limits limits = FLEXINFERENCE__V1__LIMITS__INIT; /* zeros: the protocol defaults */
    Flexinference__V1__Hello hello = FLEXINFERENCE__V1__HELLO__INIT;
    hello.n_versions = 1;
    hello.versions = versions;
    hello.n_compression = 1;
    hello.compression = compression;
    hello.limits = &limits;
    hello.agent = "flexc/0.1";
    send_message(c, FRAME_HELLO, 0, 0, &hello.base);

    Frame f;
    if (!read_frame(c, &f)) die(EXIT_UNAVAILABLE, "the server closed the connection during the handshake");
    if (f.type == FRAME_GOAWAY) {
        Flexinference__V1__GoAway *g = flexinference__v1__go_away__unpack(NULL, f.length, f.payload);
        if (!g) die(EXIT_INTERNAL, "protocol violation: a GOAWAY that does not decode");
        printf("status: %s (%s): the server refused the connection: %s\n", status_name(g->code), g->error_code, g->message);
        exit(g->code ? g->code : EXIT_UNAVAILABLE);
    }
    if (f.type != FRAME_HELLO || f.stream != 0) die(EXIT_INTERNAL, "protocol violation: the server's first frame is not HELLO");
    Flexinference__V1__Hello *answer = flexinference__v1__hello__unpack(NULL, f.length, f.payload);
    if (!answer) die(EXIT_INTERNAL, "protocol violation: a HELLO that does not decode");
    if (answer->n_versions != 1 || answer->versions[0] != 1) die(EXIT_INTERNAL, "the server chose a protocol version flexc did not offer");
    if (answer->n_compression > 1) die(EXIT_INTERNAL, "the server chose more than one compression");
    c->lz4 = answer->n_compression == 1 && answer->compression[0] == FLEXINFERENCE__V1__COMPRESSION__COMPRESSION_LZ4;
    if (answer->limits && answer->limits->max_message_size) c->peer_max = answer->limits->max_message_size;
    flexinference__v1__hello__free_unpacked(answer, NULL);
    free(f.payload);
}

static void usage(void) {
    fprintf(stderr,
            "usage: flexc --target HOST:PORT [--api-key KEY] [--stream] [--timeout SECONDS] REQUEST.json\n"
            "       flexc --target HOST:PORT [--api-key KEY] [--stream] [--timeout SECONDS] --typed\n"
            "             --provider PROVIDER --api API --model MODEL --start-within START_WITHIN\n"
            "             [--request-id ID] [--provider-key-env VAR] [--system TEXT] --prompt TEXT\n"
            "             [--max-output-tokens N] [--temperature T]\n"
            "REQUEST.json: {\"provider\": \"openai\", \"api\": \"chat_completions\", \"model\": \"gpt-5.4-mini\",\n"
            "               \"start_within\": \"00h-00m-30s\", \"provider_key_env\": \"OPENAI_API_KEY\",\n"
            "               \"body\": {...the provider's native JSON request...}}\n"
            "--typed sends a typed chat request (a system message and a prompt) that flexd translates\n"
            "for the provider, instead of a native JSON body.\n");
    exit(EXIT_USAGE);
}

/* What the command line asks for. */
typedef struct {
    const char *target, *api_key, *path;
    int streaming, typed;
    double timeout;
    /* --typed: the call's fields and its typed chat request */
    const char *request_id, *provider, *api, *model, *start_within, *provider_key_env, *system, *prompt;
    uint32_t max_output_tokens; /* 0: unset */
    double temperature;         /* negative: unset */
} Options;

static Options parse_options(int argc, char **argv) {
    Options o = {.api_key = getenv("FLEXD_API_KEY"), .temperature = -1};
    const char *typed_flag = NULL; /* the first flag that needs --typed */
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **text = NULL; /* a flag with a text value */
        int typed_only = 1;
        if (strcmp(arg, "--target") == 0) text = &o.target, typed_only = 0;
        else if (strcmp(arg, "--api-key") == 0) text = &o.api_key, typed_only = 0;
        else if (strcmp(arg, "--request-id") == 0) text = &o.request_id;
        else if (strcmp(arg, "--provider") == 0) text = &o.provider;
        else if (strcmp(arg, "--api") == 0) text = &o.api;
        else if (strcmp(arg, "--model") == 0) text = &o.model;
        else if (strcmp(arg, "--start-within") == 0) text = &o.start_within;
        else if (strcmp(arg, "--provider-key-env") == 0) text = &o.provider_key_env;
        else if (strcmp(arg, "--system") == 0) text = &o.system;
        else if (strcmp(arg, "--prompt") == 0) text = &o.prompt;
        if (text) {
            if (i + 1 >= argc) usage();
            *text = argv[++i];
            if (typed_only && !typed_flag) typed_flag = arg;
            continue;
        }
        if (strcmp(arg, "--stream") == 0) {
            o.streaming = 1;
        } else if (strcmp(arg, "--typed") == 0) {
            o.typed = 1;
        } else if (strcmp(arg, "--timeout") == 0 && i + 1 < argc) {
            char *end;
            o.timeout = strtod(argv[++i], &end);
            if (*end || !(o.timeout > 0 && o.timeout < 1e6)) die(EXIT_USAGE, "--timeout must be a positive number of seconds");
        } else if (strcmp(arg, "--max-output-tokens") == 0 && i + 1 < argc) {
            const char *value = argv[++i];
            char *end;
            errno = 0;
            unsigned long n = strtoul(value, &end, 10);
            if (!isdigit((unsigned char)value[0]) || *end || errno || n == 0 || n > UINT32_MAX)
                die(EXIT_USAGE, "--max-output-tokens must be a whole number from 1 to %lu", (unsigned long)UINT32_MAX);
            o.max_output_tokens = (uint32_t)n;
            if (!typed_flag) typed_flag = arg;
        } else if (strcmp(arg, "--temperature") == 0 && i + 1 < argc) {
            const char *value = argv[++i];
            char *end;
            o.temperature = strtod(value, &end);
            if (end == value || *end || !(o.temperature >= 0 && o.temperature <= 2)) die(EXIT_USAGE, "--temperature must be a number from 0 to 2");
            if (!typed_flag) typed_flag = arg;
        } else if (arg[0] == '-' || o.path) {
            usage();
        } else {
            o.path = arg;
        }
    }
    if (!o.target) usage();
    if (o.typed) {
        if (o.path) die(EXIT_USAGE, "--typed takes its request from flags, not from %s", o.path);
        if (!o.provider || !o.api || !o.model || !o.start_within || !o.prompt)
            die(EXIT_USAGE, "--typed needs --provider, --api, --model, --start-within and --prompt");
    } else {
        if (typed_flag) die(EXIT_USAGE, "%s is for typed calls: add --typed", typed_flag);
        if (!o.path) usage();
    }
    return o;
}

/* A malloc'd copy of s (NULL for NULL). */
static char *copy(const char *s) {
    if (!s) return NULL;
    size_t size = strlen(s) + 1;
    return memcpy(checked_malloc(size), s, size);
}

int main(int argc, char **argv) {
    Options o = parse_options(argc, argv);

    /* The call: from REQUEST.json, or from the flags of a typed call. */
    char *file = NULL;
    RequestFile r;
    if (o.typed) {
        memset(&r, 0, sizeof r);
        r.request_id = copy(o.request_id);
        r.provider = copy(o.provider);
        r.api = copy(o.api);
        r.model = copy(o.model);
        r.start_within = copy(o.start_within);
        r.provider_key_env = copy(o.provider_key_env);
    } else {
        read_request_file(o.path, &file, &r);
    }
    static const char *const providers[] = {"openai", "anthropic", "gemini"};
    static const char *const apis[] = {"chat_completions", "responses", "messages", "generate_content", "interactions"};
    int provider = lookup(r.provider, providers, 3), api = lookup(r.api, apis, 5);
    if (!provider) die(EXIT_USAGE, "provider must be openai, anthropic or gemini, not %s", r.provider);
    if (!api) die(EXIT_USAGE, "api must be chat_completions, responses, messages, generate_content or interactions, not %s", r.api);
    const char *provider_key = r.provider_key ? r.provider_key : "";
    if (r.provider_key_env) {
        provider_key = getenv(r.provider_key_env);
        if (!provider_key) die(EXIT_USAGE, "the environment variable %s (%s) is not set", r.provider_key_env, o.typed ? "--provider-key-env" : "provider_key_env");
    }

    Connection c = connect_to(o.target);
    if (o.timeout > 0) {
        clock_gettime(CLOCK_MONOTONIC, &c.deadline);
        c.deadline.tv_sec += (time_t)o.timeout;
        c.deadline.tv_nsec += (long)((o.timeout - (double)(time_t)o.timeout) * 1e9);
        if (c.deadline.tv_nsec >= 1000000000L) { c.deadline.tv_sec++; c.deadline.tv_nsec -= 1000000000L; }
    }
    handshake(&c);

    /* HEADERS, then the request MESSAGE with END_STREAM (section 5.3). */
    Flexinference__V1__RequestHeaders headers = FLEXINFERENCE__V1__REQUEST_HEADERS__INIT;
    headers.method = o.streaming ? METHOD_STREAM : METHOD_COMPLETE;
    headers.timeout_us = (uint64_t)(o.timeout * 1e6 + 0.5);
    headers.api_key = o.api_key ? (char *)o.api_key : "";
    send_message(&c, FRAME_HEADERS, 0, STREAM, &headers.base);
    call_opened = 1;

    Flexinference__V1__InferenceRequest request = FLEXINFERENCE__V1__INFERENCE_REQUEST__INIT;
    request.request_id = r.request_id ? r.request_id : "";
    request.provider = (Flexinference__V1__Provider)provider;
    request.api = (Flexinference__V1__Api)api;
    request.model = r.model;
    request.start_within = r.start_within;
    request.provider_key = (char *)provider_key;
    TypedChat typed; /* must outlive packing: request.chat points into it */
    if (o.typed) {
        request.body_case = FLEXINFERENCE__V1__INFERENCE_REQUEST__BODY_CHAT;
        request.chat = typed_chat(&typed, o.system, o.prompt, o.max_output_tokens, o.temperature);
    } else {
        request.body_case = FLEXINFERENCE__V1__INFERENCE_REQUEST__BODY_NATIVE_JSON;
        request.native_json.data = (uint8_t *)r.body;
        request.native_json.len = r.body_len;
    }
    size_t size = protobuf_c_message_get_packed_size(&request.base);
    uint8_t *payload = checked_malloc(size);
    protobuf_c_message_pack(&request.base, payload);
    send_request(&c, payload, size);
    free(payload);

    /* The answer: HEADERS, MESSAGE*, TRAILERS on stream 1; PING and GOAWAY on stream 0. */
    int exit_status = -1;
    while (exit_status < 0) {
        Frame f;
        if (!read_frame(&c, &f)) die(EXIT_UNAVAILABLE, "the server closed the connection before the call ended");
        int connection_frame = f.type == FRAME_PING || f.type == FRAME_GOAWAY;
        if (f.stream != (connection_frame ? 0u : STREAM)) die(EXIT_INTERNAL, "protocol violation: frame type %u on stream %u", f.type, f.stream);
        switch (f.type) {
        case FRAME_PING: /* answer with the same 8 bytes (section 10) */
            if (f.length != 8) die(EXIT_INTERNAL, "protocol violation: a PING of %zu bytes", f.length);
            if (!(f.flags & FLAG_ACK)) send_frame(&c, FRAME_PING, FLAG_ACK, 0, f.payload, 8);
            break;
        case FRAME_GOAWAY: {
            Flexinference__V1__GoAway *g = flexinference__v1__go_away__unpack(NULL, f.length, f.payload);
            if (!g) die(EXIT_INTERNAL, "protocol violation: a GOAWAY that does not decode");
            if (g->last_stream_id < STREAM || g->code != FLEXINFERENCE__V1__STATUS_CODE__STATUS_CODE_OK) {
                /* Not processed (safe to send again), or the connection ends with an error. */
                int code = g->code ? (int)g->code : EXIT_UNAVAILABLE;
                printf("status: %s (%s): %s%s\n", status_name(code), g->error_code,
                       g->last_stream_id < STREAM ? "the call was not processed: " : "", g->message);
                exit(code);
            }
            flexinference__v1__go_away__free_unpacked(g, NULL); /* a drain: our call still finishes */
            break;
        }
        case FRAME_HEADERS:       /* response metadata: nothing to print */
        case FRAME_WINDOW_UPDATE: /* credit for what we send: our one request is already out */
            break;
        case FRAME_MESSAGE: {
            if (o.streaming) {
                Flexinference__V1__StreamEvent *e = flexinference__v1__stream_event__unpack(NULL, f.length, f.payload);
                if (!e) die(EXIT_INTERNAL, "protocol violation: a StreamEvent that does not decode");
                print_event(e);
                flexinference__v1__stream_event__free_unpacked(e, NULL);
            } else {
                Flexinference__V1__InferenceResponse *response = flexinference__v1__inference_response__unpack(NULL, f.length, f.payload);
                if (!response) die(EXIT_INTERNAL, "protocol violation: an InferenceResponse that does not decode");
                if (response->chat) print_chat_result(response->chat);
                else printf("%.*s\n", (int)response->native_json.len, (const char *)response->native_json.data);
                flexinference__v1__inference_response__free_unpacked(response, NULL);
            }
            fflush(stdout);
            /* Consumed: return its credit, so that the server may send more (section 6). */
            uint8_t increment[4];
            put_u32(increment, f.wire_length);
            if (f.wire_length) send_frame(&c, FRAME_WINDOW_UPDATE, 0, STREAM, increment, 4);
            break;
        }
        case FRAME_TRAILERS: {
            Flexinference__V1__Trailers *t = flexinference__v1__trailers__unpack(NULL, f.length, f.payload);
            if (!t) die(EXIT_INTERNAL, "protocol violation: TRAILERS that do not decode");
            if (t->savings) print_savings(t->savings);
            exit_status = print_status(t->status);
            flexinference__v1__trailers__free_unpacked(t, NULL);
            break;
        }
        default:
            die(EXIT_INTERNAL, "protocol violation: frame type %u from the server", f.type);
        }
        free(f.payload);
    }

    /* Section 11: a client closes with GOAWAY (OK, last_stream_id 0). */
    Flexinference__V1__GoAway bye = FLEXINFERENCE__V1__GO_AWAY__INIT;
    send_message(&c, FRAME_GOAWAY, 0, 0, &bye.base);
    close(c.fd);
    free(r.request_id); free(r.provider); free(r.api); free(r.model);
    free(r.start_within); free(r.provider_key); free(r.provider_key_env);
    free(file);
    return exit_status;
}
