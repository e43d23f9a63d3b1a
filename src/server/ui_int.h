/*
 * ui_int.h: the handlers of the routes the web UI needs beyond Kestra's
 * core API (namespaces with counts, namespace files, dependencies,
 * labels, bulk actions, statistics), kept apart from server_int.h so that
 * the route table's other additions do not collide with them. Only
 * src/server/ includes it.
 */
#ifndef KITE_SERVER_UI_INT_H
#define KITE_SERVER_UI_INT_H

#include "server/server_int.h"

/* namespaces.c */
enum MHD_Result srv_namespaces_search(srv_req *r);
enum MHD_Result srv_nsfile_get(srv_req *r);
enum MHD_Result srv_nsfile_list(srv_req *r);
enum MHD_Result srv_nsfile_upload(srv_req *r);
enum MHD_Result srv_nsfile_delete(srv_req *r);

#endif
