/*
 * http.c: the HTTP family: http.request, http.download and http.sse_request
 * (Kestra's io.kestra.plugin.core.http tasks). kite declares them, so flows
 * that use them validate with the right properties, but cannot run them
 * yet: their run code (on the shared HTTP client) goes in this file, and
 * each entry then points its `hooks` at it.
 */
#include "tasks/tasks_int.h"

#define P_HTTP_COMMON                                                                    \
    PSTR("uri", PF_REQUIRED, NULL, "the URL"),                                           \
    PSTR("method", 0, "\"GET\"", "the HTTP method (GET, POST, PUT, PATCH, DELETE, ...)"), \
    PSTR("body", 0, NULL, "the request body"),                                           \
    PMAP("formData", 0, NULL, &tasks__item_any,                                          \
         "form fields, sent url-encoded or as multipart/form-data"),                     \
    PSTR("contentType", 0, "\"application/json\"", "the body's content type"),           \
    PMAP("headers", 0, NULL, &tasks__item_string, "request headers"),                    \
    PMAP("options", 0, NULL, &tasks__item_any,                                           \
         "client options: timeouts, proxy, auth, ssl, followRedirects, allowFailed, "    \
         "allowedResponseCodes, defaultCharset, ..."),                                   \
    PBOOL("allowFailed", PF_DEPRECATED, "false",                                         \
          "accept a response code >= 400 (use options.allowFailed)"),                    \
    PMAP("sslOptions", PF_DEPRECATED, NULL, &tasks__item_any, "use options.ssl")

const type_def tasks__http[] = {
    {
        .name = "http.request",
        .aliases = ALIASES("io.kestra.plugin.core.http.Request",
                           "io.kestra.plugin.fs.http.Request"),
        .flags = TF_DECLARED_ONLY,
        .desc = "Send an HTTP request (outputs code, headers, body).",
        .props = PROPS(P_HTTP_COMMON,
                       PBOOL("encryptBody", 0, "false", "encrypt the body output")),
    },
    {
        .name = "http.download",
        .aliases = ALIASES("io.kestra.plugin.core.http.Download",
                           "io.kestra.plugin.fs.http.Download"),
        .flags = TF_DECLARED_ONLY,
        .desc = "Download a URL into internal storage (output `uri`).",
        .props = PROPS(P_HTTP_COMMON,
                       PBOOL("failOnEmptyResponse", 0, "true", "fail on an empty body")),
    },
    {
        .name = "http.sse_request",
        .aliases = ALIASES("io.kestra.plugin.core.http.SseRequest"),
        .flags = TF_DECLARED_ONLY,
        .desc = "Consume server-sent events from a URL (outputs events or a jq extract).",
        .props = PROPS(P_HTTP_COMMON,
                       PSTR("concatJqExpression", 0, NULL,
                            "jq applied to each event, the results concatenated"),
                       PBOOL("failedOnMissingJq", 0, "true",
                             "fail when the jq expression yields nothing for an event")),
    },
};

const size_t tasks__http_count = sizeof tasks__http / sizeof tasks__http[0];
