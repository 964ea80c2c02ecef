#pragma once

#include "control/operatorcontrol.h"

#include <QWidget>

#include <vector>

class QLabel;
class QPushButton;
class QTableWidget;
class QTimer;

namespace sluice {

/// The dead letters, grouped by why: the reasons with their counts on the left; for the
/// selected one, what to do about it (in large print, since that is what the operator came
/// for) and its leads (email, campaign, age, detail). Retry the selected leads, or every lead
/// of the reason once its cause is fixed; discard the ones that should never go (with why,
/// and who: kept, not deleted). Every Redis call is asynchronous; the page reads again every
/// few seconds while shown, one read at a time.
class DeadLettersPage : public QWidget
{
    Q_OBJECT
public:
    DeadLettersPage(OperatorControl *control, QWidget *parent = nullptr);

    /// Reasons: title, code, leads, newest. The row's reason is Qt::UserRole of column 0.
    QTableWidget *reasonsTable() const { return m_reasons; }
    /// The selected reason's leads: email, campaign, age, attempts, detail.
    QTableWidget *entriesTable() const { return m_entries; }
    /// The "what to do" text of the selected reason.
    QString actionText() const;
    QString summaryText() const;
    /// What the last action did (or why it was refused); empty before any.
    QString statusText() const;
    /// The reason selected on the left (Unknown with none).
    LeadReason selectedReason() const;
    /// Selects `reason` on the left; false when it has no dead letters.
    bool selectReason(LeadReason reason);
    /// Queues the selected leads again.
    void retrySelected();
    /// Queues every dead letter of the selected reason again (Retry all of this reason,
    /// without asking).
    void retryReason();
    /// Discards the selected leads, saying `why`; who is the operating system's user.
    void discardSelected(const QString &why);
    /// Who a discard is recorded as: the OS user name, or "console".
    static QString operatorName();

public Q_SLOTS:
    void refresh();

Q_SIGNALS:
    /// A read finished: dead letters in all.
    void refreshed(qint64 total);
    void retried(int moved);
    void discarded(int removed);
    /// A lead was double-clicked: its timeline (email, or "close:" and the Close lead id).
    void timelineRequested(const QString &lead);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    /// The reasons table from `counts`, keeping the selected reason (else the first).
    void showCounts(std::vector<DeadLetterCount> counts);
    /// The selected reason's "what to do".
    void showAction();
    /// The selected reason's leads, keeping the selected ones.
    void showEntries(const std::vector<DeadLetter> &letters);
    void loaded();
    void updateButtons();
    std::vector<QByteArray> selectedIds() const;
    void report(const QString &text, bool bad);

    OperatorControl *m_control;
    QTableWidget *m_reasons;
    QTableWidget *m_entries;
    QLabel *m_action;
    QLabel *m_summary;
    QLabel *m_status;
    QPushButton *m_retryOne;
    QPushButton *m_retryReason;
    QPushButton *m_discard;
    QTimer *m_timer;
    std::vector<DeadLetterCount> m_counts;
    qint64 m_total = 0;
    bool m_loading = false;
    bool m_again = false; ///< a refresh was asked for during a read
};

} // namespace sluice
