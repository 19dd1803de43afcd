#ifndef PTVIEW_CNCURSESW_SHIM_H
#define PTVIEW_CNCURSESW_SHIM_H

// The feature macros must come before every include: they select the wide-character API
// (cchar_t, wget_wch, setcchar, ...) that <ncurses.h> hides otherwise. SwiftPM drops the -D
// flags of ncursesw's pkg-config file, so they live here.
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif

#include <locale.h>
#include <stdio.h>
#include <wchar.h>
#include <ncursesw/ncurses.h>

// Function-like macros and mutable globals do not import into Swift 6: re-export them.
static inline WINDOW *ptv_stdscr(void) { return stdscr; }
static inline int ptv_colors(void) { return COLORS; }
static inline int ptv_color_pairs(void) { return COLOR_PAIRS; }
static inline int ptv_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int ptv_getmaxx(WINDOW *w) { return getmaxx(w); }
static inline attr_t ptv_a_bold(void) { return A_BOLD; }
static inline attr_t ptv_a_reverse(void) { return A_REVERSE; }
static inline attr_t ptv_a_underline(void) { return A_UNDERLINE; }
static inline attr_t ptv_a_dim(void) { return A_DIM; }
static inline attr_t ptv_a_normal(void) { return A_NORMAL; }
static inline int ptv_key_f(int n) { return KEY_F(n); }
static inline mmask_t ptv_all_mouse_events(void) { return ALL_MOUSE_EVENTS; }
static inline mmask_t ptv_button4_pressed(void) { return BUTTON4_PRESSED; }
static inline mmask_t ptv_button5_pressed(void) { return BUTTON5_PRESSED; }
static inline mmask_t ptv_button1_clicked(void) { return BUTTON1_CLICKED | BUTTON1_PRESSED; }
static inline mmask_t ptv_button1_double(void) { return BUTTON1_DOUBLE_CLICKED; }

#endif
