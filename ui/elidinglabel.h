#pragma once

#include <QLabel>

#include <algorithm>

namespace sluice {

/// A one-line label that shows as much of its text as fits, ending in "…", and the whole text
/// in its tooltip when it does not fit. It takes the room its layout gives it and asks for
/// none, so a long text never pushes or runs under its neighbours (the status bar's notices).
class ElidingLabel : public QLabel
{
public:
    explicit ElidingLabel(QWidget *parent = nullptr)
        : QLabel(parent)
    {
        setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
        setMinimumWidth(0);
    }

    void setFullText(const QString &text)
    {
        m_full = text;
        refresh();
    }

protected:
    void resizeEvent(QResizeEvent *event) override
    {
        QLabel::resizeEvent(event);
        refresh();
    }

private:
    void refresh()
    {
        const QString shown
            = fontMetrics().elidedText(m_full, Qt::ElideRight, std::max(0, contentsRect().width()));
        setText(shown);
        setToolTip(shown == m_full ? QString() : m_full);
    }

    QString m_full;
};

} // namespace sluice
