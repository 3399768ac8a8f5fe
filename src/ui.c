/* ui.c: STUB, to be written. */
#include "config.h"

#include "ui.h"

#include <stdlib.h>

int
ui_run(const struct ui_config *cfg)
{
	(void)cfg;
	return 1;
}
