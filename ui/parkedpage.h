#pragma once

#include <QWidget>

class QLabel;
class QPushButton;
class QTableWidget;
class QTimer;

namespace sluice {

class CampaignResolver;
class LocalEngine;
class ParkedCampaigns;

/// The campaigns that leads wait for: Close tasks named a campaign Instantly does not have (yet).
/// Each row has its leads, since when and why. Retry looks for the campaign at once (the fleet
/// looks about every minute anyway) and sends its leads when it exists; Create campaign makes a
/// draft campaign of that name in the Instantly the engine talks to (the sandbox in sandbox
/// mode) and then sends them. Every Redis and API call is asynchronous; the page reads again
/// every few seconds while shown, never more than one read at a time.
class ParkedPage : public QWidget
{
    Q_OBJECT
public:
    ParkedPage(LocalEngine *engine, bool live, QWidget *parent = nullptr);
    ~ParkedPage() override;

    QTableWidget *table() const { return m_table; }
    QPushButton *retryButton() const { return m_retry; }
    QPushButton *createButton() const { return m_create; }
    /// The line above the table: what the last read or action found.
    QString statusText() const;
    /// The campaign of the current row, or empty.
    QString selectedCampaign() const;
    /// Looks for `name` in Instantly now and puts its parked leads back in the queue when it
    /// exists (what Retry does).
    void retry(const QString &name);
    /// Creates a draft campaign `name` and then sends its parked leads (what Create campaign
    /// does, without asking).
    void createCampaign(const QString &name);

public Q_SLOTS:
    void refresh();

Q_SIGNALS:
    void refreshed(int campaigns);
    /// After a retry or a creation: how many parked leads went back into the queue (0 when the
    /// campaign is still missing).
    void retried(const QString &name, qint64 moved);
    void creationFinished(const QString &name, bool created);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void unpark(const QString &name, const QString &why);
    void updateButtons();

    LocalEngine *m_engine;
    bool m_live;
    CampaignResolver *m_resolver;
    ParkedCampaigns *m_parked;
    QTableWidget *m_table;
    QLabel *m_summary;
    QLabel *m_status;
    QPushButton *m_retry;
    QPushButton *m_create;
    QString m_createRefusal; ///< why Create campaign is off; empty when it is available
    QTimer *m_timer;
    bool m_loading = false;
    bool m_again = false; ///< a refresh was asked for during a read
};

} // namespace sluice
