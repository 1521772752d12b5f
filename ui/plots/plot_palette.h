// The colours the plots share, so that "pruned", "kept", "threshold" and each series look the
// same in every plot, in the window and in the report.
#pragma once

#include <QColor>

namespace gp::ui::palette {

inline QColor kept() {
    return QColor(45, 105, 175);
}
inline QColor keptFill() {
    return QColor(45, 105, 175, 70);
}
inline QColor pruned() {
    return QColor(200, 50, 45);
}
inline QColor prunedFill() {
    return QColor(200, 50, 45, 130);
}
inline QColor prunedRegion() {
    return QColor(200, 50, 45, 28);
}
inline QColor restored() {
    return QColor(240, 150, 30);
}
inline QColor target() {
    return QColor(160, 160, 160);
}
inline QColor fit() {
    return QColor(40, 40, 40);
}
inline QColor threshold() {
    return QColor(200, 50, 45);
}
inline QColor predicted() {
    return QColor(20, 20, 20);
}
inline QColor ram() {
    return QColor(45, 105, 175);
}
inline QColor vram() {
    return QColor(60, 150, 75);
}
inline QColor vramReserved() {
    return QColor(60, 150, 75, 120);
}

// Series colours in order (one per method in the perplexity plot, one per search method).
inline QColor series(int index) {
    static const QColor kColours[] = {QColor(45, 105, 175), QColor(200, 50, 45),
                                      QColor(60, 150, 75),  QColor(240, 150, 30),
                                      QColor(130, 80, 170), QColor(90, 90, 90)};
    return kColours[index % 6];
}

}  // namespace gp::ui::palette
