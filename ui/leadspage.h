#pragma once

#include "journal/leadjournal.h"

#include <QWidget>

class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QTableWidget;
class QTimer;
class QTreeWidget;

namespace sluice {

class LocalEngine;

/// Every lead's life, from the lead journal in Redis (so a lead handled by any instance
/// sharing the Redis is here): search by email, Close lead id or task id, and one timeline
/// per lead and campaign: received → queued → each attempt (HTTP status, latency, limiter
/// wait, breaker state, leads in the request) → delivered / retry / dead → verified or missing
/// → requeued → deleted. Beside it, the leads with the newest events, refreshed every two
/// seconds while the page is shown.
class LeadsPage : public QWidget
{
    Q_OBJECT
public:
    explicit LeadsPage(LocalEngine *engine, QWidget *parent = nullptr);

    /// Shows the timelines for `query` (what the search box takes); searched() follows.
    void search(const QString &query);
    void refreshRecent();

    QLineEdit *searchBox() const { return m_search; }
    QTreeWidget *timelineView() const { return m_timeline; }
    QTableWidget *recentTable() const { return m_recent; }
    QString statusText() const;
    const QList<LeadTimeline> &timelines() const { return m_timelines; }

Q_SIGNALS:
    void searched();
    void recentLoaded();

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void showTimelines(const QString &query, const QList<LeadTimeline> &timelines);
    void showRecent(const QList<RecentLead> &leads);
    void applyRecentFilter();

    LeadJournal m_journal;
    QLineEdit *m_search;
    QLineEdit *m_filter;
    QLabel *m_status;
    QTableWidget *m_recent;
    QTreeWidget *m_timeline;
    QPlainTextEdit *m_detail;
    QTimer *m_refresh;
    QList<LeadTimeline> m_timelines;
    bool m_loadingRecent = false;
    quint64 m_searchGeneration = 0;
};

} // namespace sluice
