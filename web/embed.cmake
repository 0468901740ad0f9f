# embed.cmake - turn a file into a C byte array, at build time, without xxd:
#   cmake -DIN=web/console.html -DOUT=gen/console_html.c -DNAME=mg_console_html -P embed.cmake
# defines `const unsigned char NAME[]` (the bytes, then a NUL not counted) and
# `const size_t NAME_len`. Used by CMakeLists.txt for the web console (src/admin/console.c).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" nhex)
math(EXPR n "${nhex} / 2")
# 16 bytes a line: cut the hex into 32-digit lines, then turn each digit pair into 0xNN,
string(REPEAT "[0-9a-f]" 32 line)
string(REGEX REPLACE "(${line})" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}.tmp"
     "/* generated from ${src} by web/embed.cmake at build time; do not edit */\n"
     "#include <stddef.h>\n"
     "extern const unsigned char ${NAME}[];\n"
     "extern const size_t ${NAME}_len;\n"
     "const unsigned char ${NAME}[] = {\n${bytes}0x00};\n"
     "const size_t ${NAME}_len = ${n};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
