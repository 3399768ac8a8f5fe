/* privdrop.c: STUB, to be written. */
#include "config.h"

#include "privdrop.h"

#include <stdlib.h>

int
privdrop(const char *user, const char **why)
{
	(void)user;
	*why = NULL;
	return 0;
}
