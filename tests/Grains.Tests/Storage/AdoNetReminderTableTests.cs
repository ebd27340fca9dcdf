namespace AnalyticsEngine.Grains.Tests.Storage;

/// <summary>Reminders through Orleans' ADO.NET reminder table against the schema in <c>sql/0002</c>.</summary>
[Collection(StorageClusterCollection.Name)]
public sealed class AdoNetReminderTableTests(StorageTestCluster fixture)
{
    // Long enough that no reminder fires while a test runs; due time and period only need to be stored.
    private static readonly TimeSpan DueTime = TimeSpan.FromHours(1);
    private static readonly TimeSpan Period = TimeSpan.FromHours(2);

    private IReminderTestGrain Grain(string key) => fixture.Client.GetGrain<IReminderTestGrain>(key);

    [Fact]
    public async Task The_start_time_is_stored_as_an_instant()
    {
        var key = "reminders-" + Guid.NewGuid().ToString("N");
        var before = DateTime.UtcNow;
        await Grain(key).Register("alpha", DueTime, Period);
        var after = DateTime.UtcNow;

        await using var command = TestDatabase.DataSource.CreateCommand(
            "SELECT start_time FROM orleans.reminders WHERE service_id = $1 AND grain_id LIKE '%/' || $2");
        command.Parameters.AddWithValue(fixture.ServiceId);
        command.Parameters.AddWithValue(key);
        var startTime = (DateTime)(await command.ExecuteScalarAsync())!;

        // Whatever the server's time zone, the stored instant is "now + due time".
        Assert.Equal(DateTimeKind.Utc, startTime.Kind);
        Assert.InRange(startTime, before + DueTime - TimeSpan.FromSeconds(5), after + DueTime + TimeSpan.FromSeconds(5));
    }

    private async Task<List<(string Name, long PeriodMs, int Version)>> RowsFor(string key)
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            """
            SELECT reminder_name, period_ms, version
              FROM orleans.reminders
             WHERE service_id = $1 AND grain_id LIKE '%/' || $2
             ORDER BY reminder_name
            """);
        command.Parameters.AddWithValue(fixture.ServiceId);
        command.Parameters.AddWithValue(key);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, long, int)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt32(2)));
        }

        return rows;
    }

    [Fact]
    public async Task Registered_reminders_are_listed_and_stored()
    {
        var key = "reminders-" + Guid.NewGuid().ToString("N");
        await Grain(key).Register("alpha", DueTime, Period);
        await Grain(key).Register("beta", DueTime, Period);

        Assert.Equal(["alpha", "beta"], await Grain(key).List());
        Assert.Equal(
            [("alpha", (long)Period.TotalMilliseconds, 1), ("beta", (long)Period.TotalMilliseconds, 1)],
            await RowsFor(key));
    }

    [Fact]
    public async Task Registering_again_updates_the_reminder_in_place()
    {
        var key = "reminders-" + Guid.NewGuid().ToString("N");
        await Grain(key).Register("alpha", DueTime, Period);
        await Grain(key).Register("alpha", DueTime, Period * 2);

        Assert.Equal([("alpha", (long)(Period * 2).TotalMilliseconds, 2)], await RowsFor(key));
    }

    [Fact]
    public async Task An_unregistered_reminder_is_gone_and_the_others_stay()
    {
        var key = "reminders-" + Guid.NewGuid().ToString("N");
        await Grain(key).Register("alpha", DueTime, Period);
        await Grain(key).Register("beta", DueTime, Period);

        Assert.True(await Grain(key).Unregister("alpha"));

        Assert.Equal(["beta"], await Grain(key).List());
        Assert.Equal(["beta"], (await RowsFor(key)).Select(r => r.Name));
        Assert.False(await Grain(key).Unregister("alpha"));
    }
}
