/*
 * dl_pq.h: libpq (PostgreSQL tasks), loaded on first use (util/dl.h).
 * Include it instead of the library's header; call dl_pq_load() first.
 */
#ifndef KITE_UTIL_DL_PQ_H
#define KITE_UTIL_DL_PQ_H

#include <libpq-fe.h>

#include "util/dl.h"

/* The functions kite calls, as named in the library. */
#define DL_PQ(X) \
    X(PQcancel) \
    X(PQclear) \
    X(PQcmdTuples) \
    X(PQconnectdbParams) \
    X(PQconsumeInput) \
    X(PQerrorMessage) \
    X(PQexec) \
    X(PQfinish) \
    X(PQfname) \
    X(PQfreeCancel) \
    X(PQfreemem) \
    X(PQftype) \
    X(PQgetCancel) \
    X(PQgetCopyData) \
    X(PQgetResult) \
    X(PQgetisnull) \
    X(PQgetlength) \
    X(PQgetvalue) \
    X(PQisBusy) \
    X(PQnfields) \
    X(PQputCopyData) \
    X(PQputCopyEnd) \
    X(PQresultErrorField) \
    X(PQresultStatus) \
    X(PQsendQueryParams) \
    X(PQsetSingleRowMode) \
    X(PQsocket) \
    X(PQstatus) \
    X(PQtransactionStatus)

struct dl_pq {
    DL_PQ(DL_SLOT)
};
extern struct dl_pq dl_pq;

/* Each call goes through the table. */
#define PQcancel (dl_pq.PQcancel)
#define PQclear (dl_pq.PQclear)
#define PQcmdTuples (dl_pq.PQcmdTuples)
#define PQconnectdbParams (dl_pq.PQconnectdbParams)
#define PQconsumeInput (dl_pq.PQconsumeInput)
#define PQerrorMessage (dl_pq.PQerrorMessage)
#define PQexec (dl_pq.PQexec)
#define PQfinish (dl_pq.PQfinish)
#define PQfname (dl_pq.PQfname)
#define PQfreeCancel (dl_pq.PQfreeCancel)
#define PQfreemem (dl_pq.PQfreemem)
#define PQftype (dl_pq.PQftype)
#define PQgetCancel (dl_pq.PQgetCancel)
#define PQgetCopyData (dl_pq.PQgetCopyData)
#define PQgetResult (dl_pq.PQgetResult)
#define PQgetisnull (dl_pq.PQgetisnull)
#define PQgetlength (dl_pq.PQgetlength)
#define PQgetvalue (dl_pq.PQgetvalue)
#define PQisBusy (dl_pq.PQisBusy)
#define PQnfields (dl_pq.PQnfields)
#define PQputCopyData (dl_pq.PQputCopyData)
#define PQputCopyEnd (dl_pq.PQputCopyEnd)
#define PQresultErrorField (dl_pq.PQresultErrorField)
#define PQresultStatus (dl_pq.PQresultStatus)
#define PQsendQueryParams (dl_pq.PQsendQueryParams)
#define PQsetSingleRowMode (dl_pq.PQsetSingleRowMode)
#define PQsocket (dl_pq.PQsocket)
#define PQstatus (dl_pq.PQstatus)
#define PQtransactionStatus (dl_pq.PQtransactionStatus)

#endif
