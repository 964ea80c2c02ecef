#pragma once

#include "intake/backfill.h"

#include <QDialog>

#include <optional>

class QLabel;
class QLineEdit;
class QPushButton;
class QTreeWidget;

namespace sluice {

class CloseClient;
class LocalEngine;

/// Tools → Backfill from Close…: asks since when, shows what `sluice backfill` would queue (the
/// Close tasks created since then whose webhooks Sluice never saw), and queues them on Queue.
/// The listing and the Redis work are asynchronous on the GUI thread's event loop (the
/// engine's Redis client and a Close client through the shared Close gate), so nothing here
/// waits: the buttons are disabled while a step runs.
class BackfillDialog : public QDialog
{
    Q_OBJECT
public:
    BackfillDialog(LocalEngine *engine, QWidget *parent = nullptr);
    ~BackfillDialog() override;

    QLineEdit *sinceEdit() const { return m_since; }
    QPushButton *previewButton() const { return m_preview; }
    QPushButton *queueButton() const { return m_queue; }
    QTreeWidget *table() const { return m_table; }
    QString statusText() const;
    /// True while a preview or the queueing is under way.
    bool busy() const { return m_busy; }

    void preview();
    void queue();

private:
    void setBusy(bool busy);
    void showPlan(const BackfillPlan &plan);

    CloseClient *m_close = nullptr;
    Backfill *m_backfill = nullptr;
    QLineEdit *m_since;
    QPushButton *m_preview;
    QPushButton *m_queue;
    QTreeWidget *m_table;
    QLabel *m_status;
    std::optional<BackfillPlan> m_plan;
    bool m_busy = false;
};

} // namespace sluice
