using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Storage;

namespace AnalyticsEngine.Grains.Tests.Storage;

/// <summary>Grain state through Orleans' ADO.NET provider against the schema in <c>sql/0001</c>.</summary>
[Collection(StorageClusterCollection.Name)]
public sealed class AdoNetGrainStorageTests(StorageTestCluster fixture)
{
    private static string NewKey() => "storage-" + Guid.NewGuid().ToString("N");

    private IStorageTestGrain Grain(string key) => fixture.Client.GetGrain<IStorageTestGrain>(key);

    /// <summary>
    /// The silo's own provider instance, used to play a second writer of the same grain state (e.g. a
    /// duplicate activation during a failover) that holds its own, possibly stale, ETag.
    /// </summary>
    private IGrainStorage Storage =>
        fixture.Cluster.GetSiloServiceProvider(fixture.Cluster.Silos[0].SiloAddress)
            .GetRequiredKeyedService<IGrainStorage>(StorageTestCluster.StorageName);

    private async Task<GrainState<CounterState>> ReadAsSecondWriter(IStorageTestGrain grain)
    {
        var state = new GrainState<CounterState>(new CounterState());
        await Storage.ReadStateAsync("counter", grain.GetGrainId(), state);
        return state;
    }

    [Fact]
    public async Task A_grain_that_never_wrote_reads_no_record_and_no_etag()
    {
        var state = await Grain(NewKey()).Read();

        Assert.Equal(new StateSnapshot(0, null, null, false), state);
    }

    [Fact]
    public async Task Written_state_is_read_back_by_a_new_activation()
    {
        var key = NewKey();
        var written = await Grain(key).Write(42, "forty-two");
        Assert.True(written.RecordExists);
        Assert.Equal("1", written.ETag);

        await Grain(key).Deactivate();
        await fixture.Cluster.WaitForDeactivationAsync(Grain(key));

        // Current() reports what the new activation loaded on activation, without another read.
        Assert.Equal(new StateSnapshot(42, "forty-two", "1", true), await Grain(key).Current());
    }

    [Fact]
    public async Task Each_write_advances_the_etag()
    {
        var grain = Grain(NewKey());

        var etags = new List<string?>();
        for (var i = 1; i <= 3; i++)
        {
            etags.Add((await grain.Write(i, null)).ETag);
        }

        Assert.Equal(["1", "2", "3"], etags);
        Assert.Equal(3, (await grain.Read()).Count);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_refused_and_changes_nothing()
    {
        var grain = Grain(NewKey());
        await grain.Write(1, "first");
        var stale = await ReadAsSecondWriter(grain);
        Assert.Equal(("1", (int?)1), (stale.ETag, stale.State?.Count));
        await grain.Write(2, "second");

        stale.State = new CounterState { Count = 99, Note = "stale" };
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => Storage.WriteStateAsync("counter", grain.GetGrainId(), stale));

        Assert.Equal(new StateSnapshot(2, "second", "2", true), await grain.Read());
    }

    [Fact]
    public async Task Creating_state_that_someone_else_already_created_is_refused()
    {
        var grain = Grain(NewKey());
        var stale = await ReadAsSecondWriter(grain);
        Assert.Null(stale.ETag);
        await grain.Write(1, "winner");

        // The second writer read before the first write and so believes there is no row.
        stale.State = new CounterState { Count = 2, Note = "loser" };
        await Assert.ThrowsAsync<InconsistentStateException>(
            () => Storage.WriteStateAsync("counter", grain.GetGrainId(), stale));

        Assert.Equal("winner", (await grain.Read()).Note);
    }

    [Fact]
    public async Task Clearing_resets_the_state_and_keeps_the_version_moving()
    {
        var key = NewKey();
        await Grain(key).Write(7, "seven");

        var cleared = await Grain(key).Clear();
        Assert.Equal(new StateSnapshot(0, null, "2", false), cleared);

        await Grain(key).Deactivate();
        await fixture.Cluster.WaitForDeactivationAsync(Grain(key));
        Assert.Equal(new StateSnapshot(0, null, "2", false), await Grain(key).Current());

        // Writing after a clear continues from the cleared version, so pre-clear ETags stay stale.
        var rewritten = await Grain(key).Write(8, "eight");
        Assert.Equal(new StateSnapshot(8, "eight", "3", true), rewritten);
    }

    [Fact]
    public async Task Clearing_with_a_stale_etag_is_refused()
    {
        var grain = Grain(NewKey());
        await grain.Write(1, null);
        var stale = await ReadAsSecondWriter(grain);
        await grain.Write(2, null);

        await Assert.ThrowsAsync<InconsistentStateException>(
            () => Storage.ClearStateAsync("counter", grain.GetGrainId(), stale));

        Assert.Equal(2, (await grain.Read()).Count);
    }

    [Fact]
    public async Task Guid_keys_with_different_extensions_are_different_rows()
    {
        var id = Guid.NewGuid();
        var a = fixture.Client.GetGrain<IGuidStorageTestGrain>(id, "a");
        var b = fixture.Client.GetGrain<IGuidStorageTestGrain>(id, "b");
        var other = fixture.Client.GetGrain<IGuidStorageTestGrain>(Guid.NewGuid(), "a");

        await a.Write(1);
        await b.Write(2);

        Assert.Equal(1, (await a.Read()).Count);
        Assert.Equal(2, (await b.Read()).Count);
        Assert.False((await other.Read()).RecordExists);
    }

    [Fact]
    public async Task Integer_keys_are_different_rows()
    {
        var first = Random.Shared.NextInt64(1, long.MaxValue / 2);
        var one = fixture.Client.GetGrain<IIntegerStorageTestGrain>(first);
        var two = fixture.Client.GetGrain<IIntegerStorageTestGrain>(first + 1);

        await one.Write(10);
        await two.Write(20);

        Assert.Equal(10, (await one.Read()).Count);
        Assert.Equal(20, (await two.Read()).Count);
    }

    [Fact]
    public async Task State_lands_in_the_grain_state_table_under_the_cluster_service_id()
    {
        var key = NewKey();
        await Grain(key).Write(5, null);
        await Grain(key).Write(6, null);

        await using var command = TestDatabase.DataSource.CreateCommand(
            """
            SELECT version, payload IS NOT NULL
              FROM orleans.grain_state
             WHERE service_id = $1 AND grain_id_extension = $2
            """);
        command.Parameters.AddWithValue(fixture.ServiceId);
        command.Parameters.AddWithValue(key);
        await using var reader = await command.ExecuteReaderAsync();

        Assert.True(await reader.ReadAsync(), "no row for the grain");
        Assert.Equal(2, reader.GetInt32(0));
        Assert.True(reader.GetBoolean(1));
        Assert.False(await reader.ReadAsync(), "more than one row for one grain");
    }

    [Fact]
    public async Task With_delete_on_clear_the_row_is_removed_and_the_grain_starts_over()
    {
        var key = NewKey();
        var grain = fixture.Client.GetGrain<IDeletingStorageTestGrain>(key);
        await grain.Write(1);
        await grain.Write(2);

        Assert.Equal(new StateSnapshot(0, null, null, false), await grain.Clear());
        Assert.Equal(0L, await CountRows(key));

        Assert.Equal(new StateSnapshot(3, null, "1", true), await grain.Write(3));
        Assert.Equal(1L, await CountRows(key));
    }

    private async Task<long> CountRows(string key)
    {
        await using var command = TestDatabase.DataSource.CreateCommand(
            "SELECT count(*) FROM orleans.grain_state WHERE service_id = $1 AND grain_id_extension = $2");
        command.Parameters.AddWithValue(fixture.ServiceId);
        command.Parameters.AddWithValue(key);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
