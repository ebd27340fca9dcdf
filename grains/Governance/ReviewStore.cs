using AnalyticsEngine.Kpi;
using Npgsql;
using NpgsqlTypes;

namespace AnalyticsEngine.Governance;

/// <summary><c>governance.reviews</c> (sql/0015): the latest review decision per bucket of a client's KPI.</summary>
public sealed class ReviewStore(NpgsqlDataSource dataSource)
{
    public async Task SaveAsync(ReviewRecord review, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(review);
        await using var command = dataSource.CreateCommand(
            """
            INSERT INTO governance.reviews
                (client_id, kpi_code, granularity, bucket_start, decision, notes, reviewer, decided_at, reviewed_value, reviewed_event_count)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT (client_id, granularity, bucket_start, kpi_code) DO UPDATE
               SET decision = excluded.decision, notes = excluded.notes, reviewer = excluded.reviewer, decided_at = excluded.decided_at,
                   reviewed_value = excluded.reviewed_value, reviewed_event_count = excluded.reviewed_event_count
            """);
        command.Parameters.AddWithValue(review.ClientId);
        command.Parameters.AddWithValue(review.KpiCode);
        command.Parameters.AddWithValue(Name(review.Granularity));
        command.Parameters.AddWithValue(review.BucketStart.ToUniversalTime());
        command.Parameters.AddWithValue(review.Decision.ToString().ToLowerInvariant());
        command.Parameters.Add(new NpgsqlParameter<string?> { TypedValue = review.Notes, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.AddWithValue(review.Reviewer);
        command.Parameters.AddWithValue(review.DecidedAt.ToUniversalTime());
        command.Parameters.Add(new NpgsqlParameter<double?> { TypedValue = review.ReviewedValue, NpgsqlDbType = NpgsqlDbType.Double });
        command.Parameters.AddWithValue(review.ReviewedEventCount);
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The decisions on buckets of the client's KPIs at this granularity that start in <c>[from, to)</c>.</summary>
    public async Task<IReadOnlyList<ReviewRecord>> ListAsync(
        string clientId, Granularity granularity, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default)
    {
        await using var command = dataSource.CreateCommand(
            """
            SELECT kpi_code, bucket_start, decision, notes, reviewer, decided_at, reviewed_value, reviewed_event_count
              FROM governance.reviews
             WHERE client_id = $1 AND granularity = $2 AND bucket_start >= $3 AND bucket_start < $4
            """);
        command.Parameters.AddWithValue(clientId);
        command.Parameters.AddWithValue(Name(granularity));
        // Npgsql writes timestamptz from UTC values only.
        command.Parameters.AddWithValue(from.ToUniversalTime());
        command.Parameters.AddWithValue(to.ToUniversalTime());
        var reviews = new List<ReviewRecord>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            reviews.Add(new ReviewRecord(
                clientId,
                reader.GetString(0),
                granularity,
                reader.GetFieldValue<DateTimeOffset>(1),
                Enum.Parse<ReviewDecision>(reader.GetString(2), ignoreCase: true),
                reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(5),
                reader.IsDBNull(6) ? null : reader.GetDouble(6),
                reader.GetInt64(7)));
        }

        return reviews;
    }

    private static string Name(Granularity granularity) => granularity.ToString().ToLowerInvariant();
}
