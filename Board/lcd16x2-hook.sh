#!/bin/sh
# sd-pair display hook for a 16x2 character LCD (HD44780), an example: `display-cmd = /usr/local/bin/lcd16x2-hook`
# (with `code = short` for the 12-digit code on one line). Not tested on hardware; its logic is tested against a
# plain file in Tests/AgentTests/ShortCodeAgentTests.swift.
#
# The LCD is the kernel's charlcd device, /dev/lcd: on a Raspberry Pi, `dtoverlay=hd44780-lcd,...` (GPIO, 4-bit) or
# `dtoverlay=hd44780-i2c-lcd,...` (a PCF8574 i2c backpack, kernel 6.1 and later) in /boot/firmware/config.txt. charlcd
# takes "\f" as clear-and-home and "\n" as the start of the next line. Another node or a file: LCD=/path.
#
# What it shows:
#   short code   line 1: 4821-3307-5946      line 2: 287 s left
#   12 words     line 1: aban abil able      line 2: words 1-3 287s      (first four letters, all `join` needs;
#                                                                        a new screen every 5 seconds)
# sd-pair runs this with SD_PAIR_ACTION=show|clear, SD_PAIR_CODE, SD_PAIR_CODE_MODE=words|short and
# SD_PAIR_EXPIRES_IN in the environment; the code never goes on a command line (printf and set are shell builtins).
# A hook may run 30 s at most, so `show` leaves the countdown to a background loop and returns; `clear` stops it.
# Under the shipped unit, install Board/sd-pair-display.conf as its drop-in (devices, groups, room for the loop).
set -u
LCD=${LCD:-/dev/lcd}
PIDFILE=${STATE_DIRECTORY:-${TMPDIR:-/tmp}}/lcd16x2-hook.pid

stop_loop() {
    if [ -f "$PIDFILE" ]; then
        kill "$(cat "$PIDFILE")" 2>/dev/null
        rm -f "$PIDFILE"
    fi
}

countdown() {
    left=$SD_PAIR_EXPIRES_IN
    screen=0
    while [ "$left" -gt 0 ]; do
        if [ "$SD_PAIR_CODE_MODE" = short ]; then
            printf '\f%s\n%s s left' "$SD_PAIR_CODE" "$left" > "$LCD"
        else
            # Words 3k+1..3k+3 of the twelve.
            set -- $SD_PAIR_CODE
            shift $((screen * 3))
            printf '\f%.4s %.4s %.4s\nwords %d-%d %ds' "$1" "$2" "$3" $((screen * 3 + 1)) $((screen * 3 + 3)) "$left" > "$LCD"
            [ $((left % 5)) -eq 1 ] && screen=$(((screen + 1) % 4))
        fi
        sleep 1
        left=$((left - 1))
    done
    printf '\f' > "$LCD"
}

case "${SD_PAIR_ACTION:-}" in
    show)
        stop_loop
        countdown < /dev/null > /dev/null 2>&1 &
        echo $! > "$PIDFILE"
        ;;
    clear)
        stop_loop
        printf '\f' > "$LCD"
        ;;
    *)
        echo "lcd16x2-hook: run by sd-pair (display-cmd), with SD_PAIR_ACTION=show or clear" >&2
        exit 2
        ;;
esac
