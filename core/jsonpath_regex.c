/*
** jsonpath_regex.c: Java-syntax regular expressions for JSONPath filters,
** compiled to a Thompson NFA and matched over UTF-8 code points in one pass.
*/

#include <string.h>

#include "jsonpath_regex.h"

/* Parse tree nodes. */
enum { RN_EMPTY, RN_CHAR, RN_ANY, RN_CLASS, RN_CAT, RN_ALT, RN_REP,
       RN_ASSERT };

/* Assertions (RN_ASSERT a, OP_ASSERT x). */
enum { AS_BOL, AS_EOL, AS_BEGIN, AS_END, AS_ENDZ, AS_WORDB, AS_NWORDB };

/* Instructions. */
enum { OP_MATCH, OP_CHAR, OP_ANY, OP_CLASS, OP_SPLIT, OP_JMP, OP_ASSERT };

/* Flags of nodes and instructions. */
#define F_ICASE   1
#define F_DOTALL  2
#define F_MULTI   4
#define F_NEG     8

#define REP_INF   (-1)
#define MAXCOUNT  100000                 /* {n,m} bounds */
#define MAXNODES  (2 * STEPFLOW_RE_MAXPATTERN + 8)
#define MAXRANGES 4096                   /* lo, hi pairs over all classes */
#define NOCHAR    (-1L)

typedef struct ReNode {
  unsigned char kind, flags;
  int a, b;          /* CHAR: a = code point; CLASS: a = first range, b =
                        count; CAT/ALT: children; REP: a = child; ASSERT:
                        a = kind */
  int min, max;      /* REP */
} ReNode;

struct ReBuild {
  const unsigned char *start, *p, *end;
  int flags;                     /* flags in force at this point */
  int depth;
  const char *err;
  size_t errpos;
  int nnodes, nranges, root, nprog;
  ReNode nodes[MAXNODES];
  unsigned long ranges[2 * MAXRANGES];
};

size_t stepflow_re_buildsize (void) {
  return sizeof(ReBuild);
}


/* ---------------------------------------------------------------- */
/* Parser                                                            */
/* ---------------------------------------------------------------- */

/* Records the first error (at p) and returns -1. */
static int fail (ReBuild *b, const unsigned char *p, const char *what) {
  if (b->err == NULL) {
    b->err = what;
    b->errpos = (size_t)(p - b->start);
  }
  return -1;
}

static int node (ReBuild *b, int kind, int a, int bb) {
  ReNode *n;
  if (b->nnodes >= MAXNODES) return fail(b, b->p, "pattern too complex");
  n = &b->nodes[b->nnodes];
  memset(n, 0, sizeof(*n));
  n->kind = (unsigned char)kind;
  n->flags = (unsigned char)b->flags;
  n->a = a;
  n->b = bb;
  return b->nnodes++;
}

static int peekc (ReBuild *b) {
  return b->p < b->end ? *b->p : -1;
}

/* Decodes the UTF-8 character at p (pattern text); -1 when malformed. */
static long utf8_at (const unsigned char *p, const unsigned char *end,
                     const unsigned char **next) {
  long c = p[0];
  int n, k;
  if (c < 0x80) { *next = p + 1; return c; }
  if (c >= 0xC2 && c <= 0xDF) { n = 2; c &= 0x1F; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; c &= 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; c &= 0x07; }
  else return -1;
  if (end - p < n) return -1;
  for (k = 1; k < n; k++) {
    if ((p[k] & 0xC0) != 0x80) return -1;
    c = (c << 6) | (p[k] & 0x3F);
  }
  if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)))
    return -1;
  *next = p + n;
  return c;
}

static int addrange (ReBuild *b, unsigned long lo, unsigned long hi) {
  if (b->nranges >= MAXRANGES)
    return fail(b, b->p, "too many character class ranges");
  b->ranges[2 * b->nranges] = lo;
  b->ranges[2 * b->nranges + 1] = hi;
  b->nranges++;
  return 0;
}

/* Adds lo..hi and, with F_ICASE, its ASCII letters in the other case. */
static int addfolded (ReBuild *b, unsigned long lo, unsigned long hi) {
  if (addrange(b, lo, hi) < 0) return -1;
  if (b->flags & F_ICASE) {
    unsigned long l, h;
    l = lo < 'A' ? 'A' : lo; h = hi > 'Z' ? 'Z' : hi;
    if (l <= h && addrange(b, l + 32, h + 32) < 0) return -1;
    l = lo < 'a' ? 'a' : lo; h = hi > 'z' ? 'z' : hi;
    if (l <= h && addrange(b, l - 32, h - 32) < 0) return -1;
  }
  return 0;
}

/* The ranges of \d, \w, \s (Java's ASCII classes); neg: their complement. */
static int addshorthand (ReBuild *b, int which, int neg) {
  static const unsigned long d[] = { '0', '9' };
  static const unsigned long w[] = { '0', '9', 'A', 'Z', '_', '_', 'a', 'z' };
  static const unsigned long s[] = { '\t', '\r', ' ', ' ' };
  const unsigned long *r = which == 'd' ? d : which == 'w' ? w : s;
  int n = which == 'd' ? 1 : which == 'w' ? 4 : 2, k;
  unsigned long from = 0;
  if (!neg) {
    for (k = 0; k < n; k++)
      if (addrange(b, r[2 * k], r[2 * k + 1]) < 0) return -1;
    return 0;
  }
  for (k = 0; k < n; k++) {      /* the gaps between the sorted ranges */
    if (r[2 * k] > from && addrange(b, from, r[2 * k] - 1) < 0) return -1;
    from = r[2 * k + 1] + 1;
  }
  return addrange(b, from, 0x7FFFFFFFUL);
}

static int hexdigit (int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads exactly n hex digits; -1 if they are not there. */
static long hexn (ReBuild *b, int n) {
  long v = 0;
  while (n-- > 0) {
    int h = b->p < b->end ? hexdigit(*b->p) : -1;
    if (h < 0) return -1;
    v = v * 16 + h;
    b->p++;
  }
  return v;
}

/*
** An escape (b->p just after the backslash) that stands for one
** character: its code point, or -1 (error recorded). Letters Java does
** not define are errors, as Java makes them; other characters stand for
** themselves.
*/
static long escapechar (ReBuild *b, const unsigned char *at) {
  int c = peekc(b);
  long v;
  if (c < 0) return fail(b, at, "trailing backslash");
  b->p++;
  switch (c) {
    case 't': return '\t';
    case 'n': return '\n';
    case 'r': return '\r';
    case 'f': return '\f';
    case 'a': return 7;
    case 'e': return 27;
    case '0':                      /* \0n, \0nn, \0mnn (m <= 3) */
      if (peekc(b) < '0' || peekc(b) > '7')
        return fail(b, at, "illegal octal escape sequence");
      v = 0;
      for (c = 0; c < 3 && peekc(b) >= '0' && peekc(b) <= '7'; c++) {
        if (c == 2 && v > 037) break;
        v = v * 8 + (*b->p++ - '0');
      }
      return v;
    case 'x':
      if (peekc(b) == '{') {
        b->p++;
        v = 0;
        for (c = 0; hexdigit(peekc(b)) >= 0; c++) {
          v = v * 16 + hexdigit(*b->p++);
          if (v > 0x10FFFF) return fail(b, at, "hexadecimal code point too big");
        }
        if (c == 0 || peekc(b) != '}')
          return fail(b, at, "unclosed hexadecimal escape sequence");
        b->p++;
        return v;
      }
      v = hexn(b, 2);
      return v < 0 ? fail(b, at, "illegal hexadecimal escape sequence") : v;
    case 'u':
      v = hexn(b, 4);
      if (v < 0) return fail(b, at, "illegal Unicode escape sequence");
      if (v >= 0xD800 && v < 0xDC00 && b->end - b->p >= 6 && b->p[0] == '\\'
          && b->p[1] == 'u') {       /* a surrogate pair is one character */
        const unsigned char *save = b->p;
        long lo;
        b->p += 2;
        lo = hexn(b, 4);
        if (lo >= 0xDC00 && lo < 0xE000)
          return 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
        b->p = save;
      }
      return v;
    case 'c':
      if (b->p >= b->end) return fail(b, at, "illegal control escape sequence");
      return *b->p++ ^ 64;
    default:
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return fail(b, at, "illegal or unsupported escape sequence");
      if (c >= '1' && c <= '9')
        return fail(b, at, "back references are not supported");
      if (c >= 0x80) {
        const unsigned char *next;
        v = utf8_at(b->p - 1, b->end, &next);
        if (v < 0) return fail(b, at, "invalid UTF-8");
        b->p = next;
        return v;
      }
      return c;
  }
}

/* The next literal character of the pattern (not an escape). */
static long literal (ReBuild *b) {
  const unsigned char *next;
  long c = utf8_at(b->p, b->end, &next);
  if (c < 0) return fail(b, b->p, "invalid UTF-8");
  b->p = next;
  return c;
}

/* [...]: b->p just after '['. */
static int charclass (ReBuild *b) {
  const unsigned char *open = b->p - 1;
  int first = b->nranges, neg = 0, n;
  if (peekc(b) == '^') { neg = 1; b->p++; }
  if (peekc(b) == ']') return fail(b, b->p, "empty character class");
  for (;;) {
    long lo, hi;
    int c = peekc(b);
    const unsigned char *at = b->p;
    if (c < 0) return fail(b, open, "unclosed character class");
    if (c == ']') { b->p++; break; }
    if (c == '[') return fail(b, at, "nested character classes are not supported");
    if (c == '&' && b->end - b->p >= 2 && b->p[1] == '&')
      return fail(b, at, "character class intersections are not supported");
    if (c == '\\') {
      int e;
      b->p++;
      e = peekc(b);
      if (e == 'd' || e == 'w' || e == 's' || e == 'D' || e == 'W' || e == 'S') {
        b->p++;
        if (addshorthand(b, e | 0x20, e < 'a') < 0) return -1;
        continue;
      }
      if (e == 'Q' || e == 'E' || e == 'p' || e == 'P')
        return fail(b, at, "unsupported escape in a character class");
      lo = escapechar(b, at);
    }
    else lo = literal(b);
    if (lo < 0) return -1;
    hi = lo;
    if (peekc(b) == '-' && b->end - b->p >= 2 && b->p[1] != ']') {
      b->p++;
      at = b->p;
      if (peekc(b) == '[') return fail(b, at, "nested character classes are not supported");
      if (peekc(b) == '\\') {
        b->p++;
        if (strchr("dwsDWS", peekc(b)) != NULL && peekc(b) > 0)
          return fail(b, at, "illegal character range");
        hi = escapechar(b, at);
      }
      else hi = literal(b);
      if (hi < 0) return -1;
      if (hi < lo) return fail(b, at, "illegal character range");
    }
    if (addfolded(b, (unsigned long)lo, (unsigned long)hi) < 0) return -1;
  }
  if ((n = node(b, RN_CLASS, first, b->nranges - first)) < 0) return -1;
  if (neg) b->nodes[n].flags |= F_NEG;
  return n;
}

static int alternation (ReBuild *b);

/* (?flags) or (?flags:: b->p at the first flag letter; sets *colon. */
static int inlineflags (ReBuild *b, int *flags, int *colon) {
  int on = 1;
  for (;;) {
    int c = peekc(b), f = 0;
    const unsigned char *at = b->p;
    if (c == ')' || c == ':') { *colon = (c == ':'); b->p++; return 0; }
    if (c == '-') { on = 0; b->p++; continue; }
    if (c == 'i') f = F_ICASE;
    else if (c == 's') f = F_DOTALL;
    else if (c == 'm') f = F_MULTI;
    else if (c < 0) return fail(b, at, "unclosed group");
    else return fail(b, at, "unsupported inline flag");
    if (on) *flags |= f; else *flags &= ~f;
    b->p++;
  }
}

/* (...): b->p just after '('. */
static int group (ReBuild *b) {
  const unsigned char *open = b->p - 1;
  int saved = b->flags, n;
  if (++b->depth > STEPFLOW_RE_MAXDEPTH)
    return fail(b, open, "groups nested too deeply");
  if (peekc(b) == '?') {
    int c;
    b->p++;
    c = peekc(b);
    if (c == ':') b->p++;
    else if (c == '<' && b->end - b->p >= 2 && b->p[1] != '=' && b->p[1] != '!') {
      /* (?<name>X): a named group, matched as a plain one */
      b->p++;
      if (!((peekc(b) | 0x20) >= 'a' && (peekc(b) | 0x20) <= 'z'))
        return fail(b, b->p, "a group name must start with a letter");
      while (peekc(b) >= 0 && (((peekc(b) | 0x20) >= 'a' && (peekc(b) | 0x20) <= 'z')
             || (peekc(b) >= '0' && peekc(b) <= '9')))
        b->p++;
      if (peekc(b) != '>') return fail(b, b->p, "unclosed group name");
      b->p++;
    }
    else if (c == '=' || c == '!' || c == '<')
      return fail(b, open, "lookaround groups are not supported");
    else if (c == '>')
      return fail(b, open, "atomic groups are not supported");
    else {
      int flags = b->flags, colon = 0;
      if (inlineflags(b, &flags, &colon) < 0) return -1;
      if (!colon) {                /* (?i): for the rest of the group */
        b->flags = flags;
        b->depth--;
        return node(b, RN_EMPTY, 0, 0);
      }
      b->flags = flags;
    }
  }
  n = alternation(b);
  if (n < 0) return -1;
  if (peekc(b) != ')') return fail(b, open, "unclosed group");
  b->p++;
  b->flags = saved;
  b->depth--;
  return n;
}

static int shorthandnode (ReBuild *b, int which, int neg) {
  int first = b->nranges;
  if (addshorthand(b, which, 0) < 0) return -1;
  if ((first = node(b, RN_CLASS, first, b->nranges - first)) < 0) return -1;
  if (neg) b->nodes[first].flags |= F_NEG;
  b->nodes[first].flags &= (unsigned char)~F_ICASE;
  return first;
}

/* An atom; -2 when there is none here (end of a branch). */
static int atom (ReBuild *b) {
  int c = peekc(b), n;
  const unsigned char *at = b->p;
  long ch;
  switch (c) {
    case -1: case '|': case ')': return -2;
    case '*': case '+': case '?': case '{':
      return fail(b, at, c == '{' ? "illegal repetition"
                                  : "dangling quantifier");
    case '(': b->p++; return group(b);
    case '[': b->p++; return charclass(b);
    case '.': b->p++; return node(b, RN_ANY, 0, 0);
    case '^': b->p++; return node(b, RN_ASSERT, AS_BOL, 0);
    case '$': b->p++; return node(b, RN_ASSERT, AS_EOL, 0);
    case '\\':
      b->p++;
      c = peekc(b);
      switch (c) {
        case 'd': case 'w': case 's':
          b->p++; return shorthandnode(b, c, 0);
        case 'D': case 'W': case 'S':
          b->p++; return shorthandnode(b, c | 0x20, 1);
        case 'b': b->p++; return node(b, RN_ASSERT, AS_WORDB, 0);
        case 'B': b->p++; return node(b, RN_ASSERT, AS_NWORDB, 0);
        case 'A': b->p++; return node(b, RN_ASSERT, AS_BEGIN, 0);
        case 'z': b->p++; return node(b, RN_ASSERT, AS_END, 0);
        case 'Z': b->p++; return node(b, RN_ASSERT, AS_ENDZ, 0);
        case 'Q': {                  /* \Q...\E: literal text */
          int seq = -1;
          b->p++;
          while (b->p < b->end && !(b->p[0] == '\\' && b->end - b->p >= 2
                                    && b->p[1] == 'E')) {
            int m;
            if ((ch = literal(b)) < 0) return -1;
            if ((b->flags & F_ICASE) && ch >= 'A' && ch <= 'Z') ch += 32;
            if ((m = node(b, RN_CHAR, (int)ch, 0)) < 0) return -1;
            if (seq < 0) seq = m;
            else if ((seq = node(b, RN_CAT, seq, m)) < 0) return -1;
          }
          if (b->p < b->end) b->p += 2;
          return seq >= 0 ? seq : node(b, RN_EMPTY, 0, 0);
        }
        case 'G': case 'p': case 'P': case 'k': case 'R': case 'X':
        case 'h': case 'H': case 'v': case 'V':
          return fail(b, at, "unsupported escape sequence");
        default:
          ch = escapechar(b, at);
      }
      break;
    default:
      ch = literal(b);
  }
  if (ch < 0) return -1;
  if ((b->flags & F_ICASE) && ch >= 'A' && ch <= 'Z') ch += 32;
  n = node(b, RN_CHAR, (int)ch, 0);
  return n;
}

/* A decimal count of {n,m}; -1 if none. */
static long count (ReBuild *b) {
  long v = 0;
  if (peekc(b) < '0' || peekc(b) > '9') return -1;
  while (peekc(b) >= '0' && peekc(b) <= '9') {
    v = v * 10 + (*b->p++ - '0');
    if (v > MAXCOUNT) return fail(b, b->p, "repetition count too big") - 1L;
  }
  return v;
}

/* Quantifiers after atom n. */
static int quantified (ReBuild *b, int n) {
  int c = peekc(b);
  const unsigned char *at = b->p;
  long min, max;
  switch (c) {
    case '*': min = 0; max = REP_INF; b->p++; break;
    case '+': min = 1; max = REP_INF; b->p++; break;
    case '?': min = 0; max = 1; b->p++; break;
    case '{':
      b->p++;
      if ((min = count(b)) < 0) return b->err ? -1 : fail(b, at, "illegal repetition");
      max = min;
      if (peekc(b) == ',') {
        b->p++;
        max = peekc(b) == '}' ? REP_INF : count(b);
        if (max == -1 && peekc(b) != '}') return fail(b, at, "illegal repetition");
        if (b->err) return -1;
      }
      if (peekc(b) != '}') return fail(b, at, "unclosed counted repetition");
      b->p++;
      if (max != REP_INF && max < min) return fail(b, at, "illegal repetition range");
      break;
    default: return n;
  }
  if (peekc(b) == '?') b->p++;        /* reluctant: the same whole-string match */
  else if (peekc(b) == '+')
    return fail(b, b->p, "possessive quantifiers are not supported");
  c = peekc(b);
  if (c == '*' || c == '+' || c == '?') return fail(b, b->p, "dangling quantifier");
  if (b->nodes[n].kind == RN_ASSERT || b->nodes[n].kind == RN_EMPTY) return n;
  {
    int r = node(b, RN_REP, n, 0);
    if (r < 0) return -1;
    b->nodes[r].min = (int)min;
    b->nodes[r].max = (int)max;
    return r;
  }
}

static int sequence (ReBuild *b) {
  int seq = -1;
  for (;;) {
    int n = atom(b);
    if (n == -2) break;
    if (n < 0 || (n = quantified(b, n)) < 0) return -1;
    if (seq < 0) seq = n;
    else if ((seq = node(b, RN_CAT, seq, n)) < 0) return -1;
  }
  return seq >= 0 ? seq : node(b, RN_EMPTY, 0, 0);
}

static int alternation (ReBuild *b) {
  int n = sequence(b);
  while (n >= 0 && peekc(b) == '|') {
    int r;
    b->p++;
    if ((r = sequence(b)) < 0) return -1;
    n = node(b, RN_ALT, n, r);
  }
  return n;
}

/* Program size of node n, saturated just above the bound. */
static long progsize (const ReBuild *b, int n) {
  const ReNode *x = &b->nodes[n];
  long c, t;
  switch (x->kind) {
    case RN_EMPTY: return 0;
    case RN_CAT: t = progsize(b, x->a) + progsize(b, x->b); break;
    case RN_ALT: t = progsize(b, x->a) + progsize(b, x->b) + 2; break;
    case RN_REP:
      c = progsize(b, x->a);
      if (c > STEPFLOW_RE_MAXPROG) return STEPFLOW_RE_MAXPROG + 1;
      if (x->max == REP_INF) t = x->min == 0 ? c + 2 : (long)x->min * c + 1;
      else t = (long)x->min * c + (long)(x->max - x->min) * (c + 1);
      break;
    default: return 1;
  }
  return t > STEPFLOW_RE_MAXPROG ? STEPFLOW_RE_MAXPROG + 1 : t;
}

int stepflow_re_parse (ReBuild *b, const char *pat, size_t len, int flags,
                       int *nprog, int *nranges, const char **err,
                       size_t *errpos) {
  long size;
  b->start = b->p = (const unsigned char *)pat;
  b->end = b->start + len;
  b->flags = (flags & STEPFLOW_RE_ICASE) ? F_ICASE : 0;
  b->depth = 0;
  b->err = NULL;
  b->errpos = 0;
  b->nnodes = b->nranges = 0;
  if (len > STEPFLOW_RE_MAXPATTERN) fail(b, b->start, "pattern too long");
  else {
    b->root = alternation(b);
    if (b->root >= 0 && b->p < b->end) fail(b, b->p, "unmatched ')'");
  }
  if (b->err == NULL) {
    size = progsize(b, b->root) + 1;
    if (size > STEPFLOW_RE_MAXPROG)
      fail(b, b->start, "pattern too big once its repetitions are expanded");
    b->nprog = (int)size;
  }
  if (b->err != NULL) {
    *err = b->err;
    *errpos = b->errpos;
    return -1;
  }
  *nprog = b->nprog;
  *nranges = b->nranges;
  return 0;
}


/* ---------------------------------------------------------------- */
/* Emitter                                                           */
/* ---------------------------------------------------------------- */

#define ALIGNED(n)  (((n) + 15u) & ~(size_t)15u)

size_t stepflow_re_size (int nprog, int nranges) {
  return ALIGNED(sizeof(Re)) + ALIGNED((size_t)nprog * sizeof(ReInst)) +
         ALIGNED((size_t)nranges * 2 * sizeof(unsigned long)) +
         (size_t)(5 * nprog + 1) * sizeof(int);
}

static void inst (Re *re, int pc, int op, int flags, int x, int y) {
  re->prog[pc].op = (unsigned char)op;
  re->prog[pc].flags = (unsigned char)flags;
  re->prog[pc].x = x;
  re->prog[pc].y = y;
}

/* Emits node n at pc; returns the pc after it. */
static int emit (const ReBuild *b, Re *re, int n, int pc) {
  const ReNode *x = &b->nodes[n];
  int k, c, end;
  switch (x->kind) {
    case RN_EMPTY: return pc;
    case RN_CHAR: inst(re, pc, OP_CHAR, x->flags, x->a, 0); return pc + 1;
    case RN_ANY: inst(re, pc, OP_ANY, x->flags, 0, 0); return pc + 1;
    case RN_CLASS: inst(re, pc, OP_CLASS, x->flags, x->a, x->b); return pc + 1;
    case RN_ASSERT: inst(re, pc, OP_ASSERT, x->flags, x->a, 0); return pc + 1;
    case RN_CAT: return emit(b, re, x->b, emit(b, re, x->a, pc));
    case RN_ALT:
      end = pc + (int)progsize(b, n);
      k = emit(b, re, x->a, pc + 1);
      inst(re, pc, OP_SPLIT, 0, pc + 1, k + 1);
      inst(re, k, OP_JMP, 0, end, 0);
      return emit(b, re, x->b, k + 1);
    default: /* RN_REP */
      c = (int)progsize(b, x->a);
      if (x->max == REP_INF && x->min == 0) {   /* L: split L+1, E; x; jmp L */
        inst(re, pc, OP_SPLIT, 0, pc + 1, pc + c + 2);
        emit(b, re, x->a, pc + 1);
        inst(re, pc + c + 1, OP_JMP, 0, pc, 0);
        return pc + c + 2;
      }
      for (k = 0; k < x->min; k++) pc = emit(b, re, x->a, pc);
      if (x->max == REP_INF) {                  /* the last copy loops */
        inst(re, pc, OP_SPLIT, 0, pc - c, pc + 1);
        return pc + 1;
      }
      end = pc + (x->max - x->min) * (c + 1);
      for (k = x->min; k < x->max; k++) {
        inst(re, pc, OP_SPLIT, 0, pc + 1, end);
        pc = emit(b, re, x->a, pc + 1);
      }
      return pc;
  }
}

Re *stepflow_re_emit (const ReBuild *b, void *mem) {
  Re *re = (Re *)mem;
  char *m = (char *)mem + ALIGNED(sizeof(Re));
  int end;
  re->nprog = b->nprog;
  re->nranges = b->nranges;
  re->prog = (ReInst *)m;
  m += ALIGNED((size_t)b->nprog * sizeof(ReInst));
  re->ranges = (unsigned long *)m;
  m += ALIGNED((size_t)b->nranges * 2 * sizeof(unsigned long));
  re->scratch = (int *)m;
  if (b->nranges > 0)
    memcpy(re->ranges, b->ranges, (size_t)b->nranges * 2 * sizeof(unsigned long));
  end = emit(b, re, b->root, 0);
  inst(re, end, OP_MATCH, 0, 0, 0);
  return re;
}


/* ---------------------------------------------------------------- */
/* Matcher                                                           */
/* ---------------------------------------------------------------- */

/*
** The code point at s[pos] (a byte that is not UTF-8 is a character no
** pattern character equals), NOCHAR at the end; *next gets the position
** after it.
*/
static long textchar (const unsigned char *s, size_t len, size_t pos,
                      size_t *next) {
  const unsigned char *n;
  long c;
  if (pos >= len) { *next = pos; return NOCHAR; }
  c = utf8_at(s + pos, s + len, &n);
  if (c < 0) { *next = pos + 1; return 0x110000L + s[pos]; }
  *next = (size_t)(n - s);
  return c;
}

/* Java's line terminators, as '.', '^' and '$' see them. */
static int isterm (long c) {
  return c == '\n' || c == '\r' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static int isword (long c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') || c == '_';
}

typedef struct Pos {
  const unsigned char *s;
  size_t len, pos;
  long prev, cur;       /* the characters before and at pos */
} Pos;

/* At the end, or only a final line terminator after pos. */
static int atendz (const Pos *p) {
  size_t next;
  if (p->cur == NOCHAR) return 1;
  if (!isterm(p->cur)) return 0;
  (void)textchar(p->s, p->len, p->pos, &next);
  if (p->cur == '\r' && next < p->len && p->s[next] == '\n') next++;
  return next == p->len;
}

static int holds (int kind, int flags, const Pos *p) {
  switch (kind) {
    case AS_BOL:
      return p->pos == 0 || ((flags & F_MULTI) && isterm(p->prev) &&
                             p->cur != NOCHAR &&
                             !(p->prev == '\r' && p->cur == '\n'));
    case AS_EOL:
      if (flags & F_MULTI)
        return p->cur == NOCHAR || (isterm(p->cur) &&
                                    !(p->prev == '\r' && p->cur == '\n'));
      return atendz(p);
    case AS_BEGIN: return p->pos == 0;
    case AS_END: return p->cur == NOCHAR;
    case AS_ENDZ: return atendz(p);
    case AS_WORDB: return isword(p->prev) != isword(p->cur);
    default: return isword(p->prev) == isword(p->cur);
  }
}

/*
** Adds the thread at pc to list, following jumps, splits and assertions
** (each pc once per list, so empty loops end). Returns the steps taken.
*/
static unsigned long addthread (const Re *re, int *list, int *n, int *mark,
                                int gen, int pc0, const Pos *p) {
  int *stack = re->scratch + 3 * re->nprog, sp = 0;
  unsigned long steps = 0;
  stack[sp++] = pc0;
  while (sp > 0) {
    int pc = stack[--sp];
    const ReInst *in = &re->prog[pc];
    if (mark[pc] == gen) continue;
    mark[pc] = gen;
    steps++;
    switch (in->op) {
      case OP_JMP: stack[sp++] = in->x; break;
      case OP_SPLIT: stack[sp++] = in->y; stack[sp++] = in->x; break;
      case OP_ASSERT:
        if (holds(in->x, in->flags, p)) stack[sp++] = pc + 1;
        break;
      default: list[(*n)++] = pc;
    }
  }
  return steps;
}

static int inclass (const Re *re, const ReInst *in, long c) {
  const unsigned long *r = re->ranges + 2 * in->x;
  int k, hit = 0;
  for (k = 0; k < in->y && !hit; k++)
    hit = (unsigned long)c >= r[2 * k] && (unsigned long)c <= r[2 * k + 1];
  return (in->flags & F_NEG) ? !hit : hit;
}

int stepflow_re_match (const Re *re, const char *str, size_t len,
                       unsigned long budget) {
  int *clist = re->scratch, *nlist = clist + re->nprog;
  int *mark = nlist + re->nprog, *t;
  int nc = 0, nn, gen = 0, i;
  unsigned long steps = 0;
  size_t next, after;
  Pos p, q;                  /* this position and the next one */
  for (i = 0; i < re->nprog; i++) mark[i] = -1;
  p.s = q.s = (const unsigned char *)str;
  p.len = q.len = len;
  p.pos = 0;
  p.prev = NOCHAR;
  p.cur = textchar(p.s, len, 0, &next);
  steps += addthread(re, clist, &nc, mark, gen, 0, &p);
  while (nc > 0) {
    q.pos = next;
    q.prev = p.cur;
    q.cur = textchar(q.s, len, next, &after);
    gen++;
    nn = 0;
    for (i = 0; i < nc; i++) {
      const ReInst *in = &re->prog[clist[i]];
      int ok;
      switch (in->op) {
        case OP_MATCH:
          if (p.cur == NOCHAR) return 1;
          continue;
        case OP_CHAR:
          ok = p.cur == in->x || ((in->flags & F_ICASE) && p.cur >= 'A' &&
                                  p.cur <= 'Z' && p.cur + 32 == in->x);
          break;
        case OP_ANY:
          ok = p.cur != NOCHAR && ((in->flags & F_DOTALL) || !isterm(p.cur));
          break;
        default: /* OP_CLASS */
          ok = p.cur != NOCHAR && inclass(re, in, p.cur);
      }
      steps++;
      if (ok) steps += addthread(re, nlist, &nn, mark, gen, clist[i] + 1, &q);
    }
    if (p.cur == NOCHAR) return 0;
    if (steps > budget) return -1;
    t = clist; clist = nlist; nlist = t;
    nc = nn;
    p = q;
    next = after;
  }
  return 0;
}
