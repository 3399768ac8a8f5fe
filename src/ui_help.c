/* ui_help.c: STUB. */
#include "config.h"

#include "ui_screen.h"

#include <stddef.h>

const struct ui_screen ui_screen_help = {"help", NULL, NULL, NULL};
