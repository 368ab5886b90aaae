// cmark-gfm, the CommonMark reference parser with GitHub's extensions (tables, strikethrough,
// autolinks, task lists), which renders the markdown cells of reports.
#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>
