#pragma once

#include "runs/runsession.h"

#include <QWidget>

#include <functional>
#include <memory>

class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTableWidget;
class QTreeWidget;

namespace sluice {

class LocalEngine;
class RunLedger;

/// Load tests from the console: stage buttons (20/200/500/1000/2000) and a custom count, the
/// predicted duration before starting, live progress with an ETA, the verdict with its
/// checks, and this session's runs.
class RunsPage : public QWidget
{
    Q_OBJECT
public:
    RunsPage(LocalEngine *engine, bool live, QWidget *parent = nullptr);
    ~RunsPage() override;

    /// Starts a run of `leads` (what the stage buttons do). False when one is running, or
    /// when live mode and the operator declined.
    bool startRun(int leads, const QString &stage);
    bool running() const { return currentRun() != nullptr; }
    const LoadTestRun *currentRun() const { return m_session ? m_session->loadTest() : nullptr; }
    const std::vector<RunRecord> &history() const { return m_history; }
    QString predictionText() const;
    QString verdictText() const;
    QTreeWidget *checksView() const { return m_checks; }
    /// The run shown (the last one, or the one picked in the table); -1 for none.
    int currentIndex() const { return m_current; }
    /// Verify the shown run in Instantly; with `repair`, queue its missing leads again.
    bool verifyCurrent(bool repair);
    /// Preview the clean-up, then (after asking, when `confirm`) delete the run's leads.
    bool cleanUpCurrent(bool confirm);
    bool busy() const { return m_session != nullptr; }

Q_SIGNALS:
    void runFinished(const sluice::RunRecord &record);
    /// Verification or clean-up changed a finished run's record.
    void recordChanged(const sluice::RunRecord &record);
    /// The ledger's runs were read (this many in the history now).
    void historyLoaded(int runs);

private:
    void updatePrediction();
    void showProgress(const RunProgress &p);
    void finished(const RunOutcome &outcome);
    /// A session for one job; its finished() goes to `done`, after which it is let go.
    RunSession *newSession(std::function<void(const RunOutcome &)> done);
    /// Puts a verified or cleaned-up record in the history and shows it.
    void rechecked(const RunOutcome &outcome);
    void showNotSaved(const RunOutcome &outcome);
    RunRecord *historyRecord(const QString &id);
    void addHistoryRow(const RunRecord &r);
    void replaceHistoryRow(const RunRecord &r);
    void showRecord(const RunRecord &r);
    void setBusy(bool busy);
    void exportCurrent();
    void loadHistory();

    LocalEngine *m_engine;
    bool m_live;
    std::unique_ptr<RunSession> m_session; ///< the run, verification or clean-up under way
    std::unique_ptr<RunLedger> m_ledger; ///< for the history
    std::vector<RunRecord> m_history;
    int m_current = -1;
    QList<QPushButton *> m_stageButtons;
    QSpinBox *m_custom;
    QPushButton *m_customButton;
    QLabel *m_prediction;
    QProgressBar *m_progress;
    QLabel *m_status;
    QLabel *m_verdict;
    QTreeWidget *m_checks;
    QPushButton *m_verifyButton;
    QPushButton *m_repairButton;
    QPushButton *m_cleanupButton;
    QPushButton *m_exportButton;
    QTableWidget *m_table;
};

} // namespace sluice
