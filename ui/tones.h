#pragma once

#include <QColor>
#include <QPalette>

namespace sluice {

/// The few meaning-carrying text colours of the console, readable on light and dark palettes:
/// darker shades on a light window, lighter ones on a dark window.
enum class Tone { Good, Bad, Warning, Muted };

inline bool isDarkPalette(const QPalette &palette)
{
    return palette.color(QPalette::Window).lightness() < 128;
}

inline QColor toneColor(Tone tone, const QPalette &palette)
{
    const bool dark = isDarkPalette(palette);
    switch (tone) {
    case Tone::Good:
        return dark ? QColor(0x81, 0xc7, 0x84) : QColor(0x2e, 0x7d, 0x32);
    case Tone::Bad:
        return dark ? QColor(0xef, 0x9a, 0x9a) : QColor(0xc6, 0x28, 0x28);
    case Tone::Warning:
        return dark ? QColor(0xff, 0xcc, 0x80) : QColor(0xb2, 0x5a, 0x00);
    case Tone::Muted:
        break;
    }
    return palette.color(QPalette::PlaceholderText);
}

} // namespace sluice
