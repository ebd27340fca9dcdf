using AnalyticsEngine.Archive;
using AnalyticsEngine.Ingest;
using Npgsql;

namespace AnalyticsEngine.Grains.Tests.Archive;

/// <summary>
/// Rows to a segment and back, exactly, whatever the session's text settings: float8 at its extremes, text that CSV must
/// quote, nulls against empty strings, microseconds. And a damaged file restores nothing.
/// </summary>
public sealed class TableArchiverTests : IAsyncLifetime
{
    private readonly string _clientId = "arch-" + Guid.NewGuid().ToString("N")[..10];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ae-archiver-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly ObjectModelTable _orders = ObjectModelTables.BuiltIn.Get("orders");
    private NpgsqlDataSource _hostile = null!;

    public async Task InitializeAsync()
    {
        await TestDatabase.EnsureMigratedAsync();
        await ObjectModelTables.BuiltIn.EnsureCreatedAsync(TestDatabase.DataSource, CancellationToken.None);
        // Settings a role or a server may have: floats cut to 15 digits, day-first dates, another zone.
        _hostile = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString)
        {
            Options = "-c extra_float_digits=0 -c DateStyle=SQL,DMY -c TimeZone=Asia/Kolkata -c IntervalStyle=sql_standard",
        }.ConnectionString);
        await using var insert = TestDatabase.DataSource.CreateCommand(
            """
            INSERT INTO scor_data.orders (client_id, sequence, order_id, ordered_at, order_value, promised_at, delivered_at,
                                          on_time, in_full, damage_free, documentation_complete, status, carrier)
            VALUES ($1, 1, 'a,"b"' || chr(10) || 'c', '2026-01-02 03:04:05.123456+00', 1.7976931348623157e308, '2026-01-05 00:00:00+00', NULL,
                    true, false, true, true, 'delivered', ''),
                   ($1, 2, E'\\.', '2026-01-02 23:59:59.999999+00', 5e-324, '2026-01-05 00:00:00+00', '2026-01-04 12:00:00.5+00',
                    false, true, false, true, 'NULL', NULL),
                   ($1, 3, 'ünï ☃ 𝄞' || chr(9) || '\N', '2026-01-02 12:00:00+00', 0.30000000000000004, '2026-01-05 00:00:00+00', '2026-01-03 00:00:00+00',
                    true, true, true, false, 'open', 'dhl')
            """);
        insert.Parameters.AddWithValue(_clientId);
        await insert.ExecuteNonQueryAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var table in new[] { "scor_data.orders", "archive.segments" })
        {
            await using var cleanUp = TestDatabase.DataSource.CreateCommand($"DELETE FROM {table} WHERE client_id = $1");
            cleanUp.Parameters.AddWithValue(_clientId);
            await cleanUp.ExecuteNonQueryAsync();
        }

        await _hostile.DisposeAsync();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Rows_come_back_from_their_segment_exactly_whatever_the_session_settings()
    {
        var before = await RowsAsync();
        Assert.Equal(3, before.Count);
        var archiver = new TableArchiver(_hostile, new ColdStorage(new ArchiveOptions { Directory = _directory + Path.DirectorySeparatorChar }));

        Assert.Equal(3, await archiver.MoveOutAsync(_clientId, Slice(), archive: true, DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Empty(await RowsAsync());
        var segment = Assert.Single(await new SegmentIndex(TestDatabase.DataSource).SegmentsAsync(_clientId, CancellationToken.None));
        Assert.Equal(3, segment.Segment.Rows);

        Assert.True(await archiver.RestoreAsync(segment, _orders, DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None));
        Assert.Equal(before, await RowsAsync());

        // Out again by their sequence numbers: the table is as after archiving, the file still there.
        var restored = Assert.Single(await new SegmentIndex(TestDatabase.DataSource).SegmentsAsync(_clientId, CancellationToken.None));
        Assert.True(await archiver.RemoveRestoredAsync(_clientId, restored, _orders, CancellationToken.None));
        Assert.Empty(await RowsAsync());
        Assert.True(File.Exists(Path.Combine(_directory, segment.Segment.Location)));
    }

    [Fact]
    public async Task A_damaged_file_restores_nothing_and_says_so()
    {
        var storage = new ColdStorage(new ArchiveOptions { Directory = _directory });
        var archiver = new TableArchiver(TestDatabase.DataSource, storage);
        await archiver.MoveOutAsync(_clientId, Slice(), archive: true, DateTimeOffset.UtcNow, CancellationToken.None);
        var segment = Assert.Single(await new SegmentIndex(TestDatabase.DataSource).SegmentsAsync(_clientId, CancellationToken.None));
        var path = Path.Combine(_directory, segment.Segment.Location);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^5] ^= 0xFF;
        await File.WriteAllBytesAsync(path, bytes);

        var damaged = await Assert.ThrowsAsync<InvalidDataException>(() =>
            archiver.RestoreAsync(segment, _orders, DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None));

        Assert.Contains("damaged", damaged.Message, StringComparison.Ordinal);
        Assert.Empty(await RowsAsync());
        Assert.Null(Assert.Single(await new SegmentIndex(TestDatabase.DataSource).SegmentsAsync(_clientId, CancellationToken.None)).Segment.RestoredUntil);
    }

    private TableSlice Slice()
    {
        var columns = string.Join(", ", _orders.ColumnNames.Select(c => $"t.{ObjectModelTable.Quote(c)}"));
        return new TableSlice(ArchivedDataKind.Source, "orders", _orders.QualifiedName, $"t.client_id = '{_clientId}'", columns,
            new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 1, 3, 0, 0, 0, TimeSpan.Zero), HasSequences: true);
    }

    /// <summary>The client's rows as JSON (float8 in full), in sequence order, read with the default settings.</summary>
    private async Task<List<string>> RowsAsync()
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            "SELECT row_to_json(t)::text || '|' || t.order_value::text FROM scor_data.orders AS t WHERE t.client_id = $1 ORDER BY t.sequence");
        command.Parameters.AddWithValue(_clientId);
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
