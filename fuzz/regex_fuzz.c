/*
** regex_fuzz.c: libFuzzer harness of the JSONPath regex engine, without
** Lua. The input is a pattern, a NUL, then a subject: the pattern must
** compile or be refused with a reason inside it; a compiled pattern must
** match the subject within the step bound the program size implies.
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonpath_regex.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size) {
  static ReBuild *b = NULL;
  const char *s = (const char *)data, *z = memchr(s, '\0', size);
  size_t plen = z ? (size_t)(z - s) : size, tlen, errpos;
  const char *text = z ? z + 1 : "", *err;
  int nprog, nranges, flags = (size > 0 && (data[0] & 1)) ? STEPFLOW_RE_ICASE : 0;
  void *mem;
  Re *re;
  int r;
  tlen = z ? size - plen - 1 : 0;
  if (b == NULL) b = malloc(stepflow_re_buildsize());
  if (stepflow_re_parse(b, s, plen, flags, &nprog, &nranges, &err,
                        &errpos) < 0) {
    if (err == NULL || errpos > plen) abort();
    return 0;
  }
  if (nprog < 1 || nprog > STEPFLOW_RE_MAXPROG) abort();
  mem = malloc(stepflow_re_size(nprog, nranges));
  re = stepflow_re_emit(b, mem);
  /* each character costs at most every instruction twice over */
  r = stepflow_re_match(re, text, tlen,
                        (unsigned long)(tlen + 2) * (unsigned long)nprog * 4);
  if (r < 0) {
    fprintf(stderr, "match took more steps than its bound\n");
    abort();
  }
  free(mem);
  return 0;
}
