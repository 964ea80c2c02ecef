#pragma once

#include "journal/leadjournal.h"
#include "runs/cleaner.h"
#include "runs/loadtest.h"
#include "runs/run.h"
#include "runs/runledger.h"

#include <QObject>
#include <QString>

#include <optional>

namespace sluice {

/// What a RunSession works with. The pointers in `run` must outlive the session; its Redis
/// and keys also hold the run ledger and take `--repair`'s leads, and its Instantly client
/// verifies and cleans up.
struct RunSessionServices
{
    LoadTestServices run;
    /// Verification findings and deletions go to this journal; none: they are not journalled.
    std::optional<LeadJournal> journal;
    /// Stamped into a new run's record, so verify and clean-up later go to the same Instantly.
    QString instantlyUrl;
    /// The Instantly is the sandbox embedded in this process: a new run's leads end with it.
    bool embeddedSandbox = false;
};

/// What follows a new run, before its judgement and the ledger save.
struct RunSteps
{
    bool verify = false; ///< list the campaign and check every lead (not after an abort)
    bool cleanup = false; ///< delete the run's leads (after an abort too: they were sent)
};

/// A live view of a session, for a progress line or the console.
struct RunProgress
{
    /// Firing or Delivering (then `run` says how far), Verifying or CleaningUp.
    RunRecord::State state = RunRecord::State::Created;
    LoadTestProgress run; ///< the load test's, while it fires and delivers
    int pages = 0; ///< verify and clean-up: listing pages read
    int listed = 0; ///< verify: leads listed so far
    int deleted = 0; ///< clean-up: leads deleted so far
    int found = 0; ///< clean-up: run leads the first listing found
};

/// How a session ended.
struct RunOutcome
{
    RunRecord record; ///< judged; what the ledger now holds unless `saveError`
    std::optional<VerifyReport> verified; ///< this session's verification, when it made one
    /// This session's clean-up, when it made one. A dry run's report is here only: it is
    /// not put in the record.
    std::optional<CleanupReport> cleaned;
    bool saved = false; ///< the record is in the ledger (a dry run saves nothing)
    std::optional<LedgerError> saveError; ///< why the save failed
};

/// One run pipeline (issue 16): takes a load test from its start through verification,
/// clean-up and judgement to the ledger save; or verifies or cleans up a run the ledger
/// already holds, judges it again and saves it. `sluice loadtest`, `sluice verify|cleanup
/// --run` and the console's Runs page drive it.
///
/// Asynchronous on the owner's event loop, never blocking it: a command line waits for
/// finished() in its event loop, the console carries on drawing. One job per session;
/// finished() comes exactly once per job, never from inside the call that started it.
///
/// A record is judged with its own RunRecord::deliveryObservable, so a run against an outside
/// target stays "not observable" whenever it is judged again. A dry run writes nothing.
class RunSession : public QObject
{
    Q_OBJECT
public:
    explicit RunSession(RunSessionServices services, QObject *parent = nullptr);
    ~RunSession() override;

    /// Starts a new run of `definition`, then `steps`. Returns why it cannot start (the
    /// definition's problems or a missing service), and then does nothing.
    std::optional<QString> start(const RunDefinition &definition, RunSteps steps = {});
    /// Verifies `record` (with `repair`, queues its missing leads again), judges and saves it.
    bool verify(const RunRecord &record, bool repair = false);
    /// Cleans up after `record`, judges and saves it; a dry run only reports what it would do.
    bool cleanUp(const RunRecord &record, CleanupMode mode = CleanupMode::Delete);
    /// Stops a new run's sending and waiting; the record says why. The steps that follow an
    /// aborted run (clean-up) and verification or clean-up under way run to their end.
    void abort(const QString &reason);

    bool isRunning() const { return m_running; }
    /// The load test while this session drives one (to its end), else nullptr.
    const LoadTestRun *loadTest() const { return m_run; }
    const RunSessionServices &services() const { return m_services; }

Q_SIGNALS:
    void progressChanged(const sluice::RunProgress &progress);
    void finished(const sluice::RunOutcome &outcome);

private:
    void begin(const RunRecord &record);
    void runFinished();
    void startVerify(bool repair);
    void startCleanup(CleanupMode mode);
    void enterStep(RunRecord::State state);
    void conclude();
    void finish();
    void report();

    RunSessionServices m_services;
    std::optional<RunLedger> m_ledger; ///< none without Redis: then saving fails
    LoadTestRun *m_run = nullptr; ///< child, while the session drives a new run
    bool m_running = false;
    RunSteps m_steps;
    /// The state the record returns to once verification and clean-up are done.
    RunRecord::State m_finalState = RunRecord::State::Created;
    RunOutcome m_outcome;
    RunProgress m_progress;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::RunProgress)
Q_DECLARE_METATYPE(sluice::RunOutcome)
