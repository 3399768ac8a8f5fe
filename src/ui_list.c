/* ui_list.c: STUB. */
#include "config.h"

#include "ui_screen.h"

#include <stddef.h>

const struct ui_screen ui_screen_list = {"list", NULL, NULL, NULL};
