/*
 * Default socket path, shared by jbusd and libjbus so both resolve it the
 * same way: $JBUS_SOCKET, else $XDG_RUNTIME_DIR/jbus.sock, else
 * /tmp/jbus-<uid>.sock. Empty variables count as unset.
 */
#pragma once

#include <stddef.h>

/* Largest path that fits sun_path with its terminating NUL. */
#define SOCKPATH_MAX 107

/* Writes the default path into buf. Returns 0, or -ENAMETOOLONG if it does not fit cap. */
int sockpath_default(char *buf, size_t cap);

/*
 * The same for the datagram socket: $JBUS_DGRAM_SOCKET, else
 * $XDG_RUNTIME_DIR/jbus.dgram, else /tmp/jbus-<uid>.dgram.
 */
int sockpath_default_dgram(char *buf, size_t cap);
