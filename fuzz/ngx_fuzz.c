
/*
 * Copyright (C) The ngx_admin_module authors
 */


#include "ngx_fuzz.h"

#include <stdio.h>
#include <stdlib.h>


/* a broken invariant: what, and the input in hex, then abort() */

void
ngx_fuzz_fail(const char *what, const u_char *data, size_t size)
{
    size_t  i;

    fprintf(stderr, "\n==fuzz== invariant broken: %s\n==fuzz== input (%zu "
            "bytes, hex): ", what, size);

    for (i = 0; i < size; i++) {
        fprintf(stderr, "%02x", data[i]);
    }

    fprintf(stderr, "\n");

    abort();
}
