/* ui_session.c: STUB. */
#include "config.h"

#include "ui_screen.h"

#include <stddef.h>

const struct ui_screen ui_screen_session = {"session", NULL, NULL, NULL};
