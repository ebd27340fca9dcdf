namespace AnalyticsEngine.Query;

/// <summary>
/// Whether a query should read a client's rows through the (client, time) index although the planner would scan
/// the table. PostgreSQL estimates "this client and this range" as the client's share of the table times the range's
/// share of it, as if the two were independent; where other clients' rows crowd the queried period (a busy tenant's
/// last day) a one-day range of a quiet client looks like millions of rows, and it scans every client's rows: 2.6 s
/// instead of 10 ms on the benchmark (docs/benchmarks.md). The engine knows better: the client's row count (its
/// partition's sequences run from 1 without gaps) and the time its rows span give the client's rows in the range,
/// assuming them spread evenly over that span. Only a client with less than half of the table is overruled: where
/// the table is mostly the client's own, the planner's statistics describe the client, and its choice stands.
/// </summary>
public static class TenantShare
{
    /// <summary>Below this part of the table, the client's rows in the range are read through the index.</summary>
    public const double IndexBelow = 0.1;

    /// <summary>Only a client with less than this share of the table's rows is overruled.</summary>
    public const double MinorityBelow = 0.5;

    /// <summary>
    /// True when the client holds less than <see cref="MinorityBelow"/> of the table's rows and its rows in
    /// <c>[fromTicks, toTicks)</c> are estimated at less than <see cref="IndexBelow"/> of them; false when nothing is
    /// known (no rows, a table never analyzed).
    /// </summary>
    /// <param name="clientRows">The client's rows in the table.</param>
    /// <param name="firstTicks">Event time of the client's first row (UTC ticks).</param>
    /// <param name="lastTicks">Event time of the client's last row (UTC ticks).</param>
    /// <param name="tableRows">The table's row estimate (<c>pg_class.reltuples</c>; negative before the first ANALYZE).</param>
    public static bool ReadThroughIndex(long clientRows, long firstTicks, long lastTicks, long fromTicks, long toTicks, double tableRows) =>
        clientRows > 0 && tableRows > 0 && lastTicks >= firstTicks && clientRows < MinorityBelow * tableRows
        && RowsInRange(clientRows, firstTicks, lastTicks, fromTicks, toTicks) < IndexBelow * tableRows;

    /// <summary>The client's rows in <c>[fromTicks, toTicks)</c>, taking them spread evenly over the time they span.</summary>
    public static double RowsInRange(long clientRows, long firstTicks, long lastTicks, long fromTicks, long toTicks)
    {
        if (clientRows <= 0 || lastTicks < firstTicks)
        {
            return 0;
        }

        var overlap = Math.Min(toTicks, lastTicks + 1) - Math.Max(fromTicks, firstTicks);
        return overlap <= 0 ? 0 : clientRows * Math.Min(1.0, overlap / (double)(lastTicks + 1 - firstTicks));
    }

    /// <summary>
    /// From how many rows JIT compiling a statement pays. PostgreSQL decides by its cost estimate (<c>jit_above_cost</c>),
    /// which the parallel aggregation of 30 days of the benchmark (830,000 rows) already passes: compiled in the backend
    /// and the worker it took 250–255 ms against 230–240 without; over 10 million rows it saves more than it costs.
    /// </summary>
    public const double JitFromRows = 3_000_000;
}
