using Orleans;
using Orleans.Runtime;

namespace AnalyticsEngine.Grains.Tests.Storage;

[GenerateSerializer, Alias("ae.tests.CounterState")]
public sealed class CounterState
{
    [Id(0)] public int Count { get; set; }
    [Id(1)] public string? Note { get; set; }
}

/// <summary>What a storage test grain saw of its state after an operation.</summary>
[GenerateSerializer, Immutable, Alias("ae.tests.StateSnapshot")]
public sealed record StateSnapshot(
    [property: Id(0)] int Count,
    [property: Id(1)] string? Note,
    [property: Id(2)] string? ETag,
    [property: Id(3)] bool RecordExists)
{
    public static StateSnapshot Of(IPersistentState<CounterState> state) =>
        new(state.State.Count, state.State.Note, state.Etag, state.RecordExists);
}

/// <summary>Drives <see cref="IPersistentState{TState}"/> operations one by one so that tests can check each.</summary>
[Alias("ae.tests.IStorageTestGrain")]
public interface IStorageTestGrain : IGrainWithStringKey
{
    Task<StateSnapshot> Write(int count, string? note);
    Task<StateSnapshot> Read();
    Task<StateSnapshot> Clear();
    Task<StateSnapshot> Current();

    Task Deactivate();
}

[Alias("ae.tests.IGuidStorageTestGrain")]
public interface IGuidStorageTestGrain : IGrainWithGuidCompoundKey
{
    Task<StateSnapshot> Write(int count);
    Task<StateSnapshot> Read();
}

[Alias("ae.tests.IIntegerStorageTestGrain")]
public interface IIntegerStorageTestGrain : IGrainWithIntegerKey
{
    Task<StateSnapshot> Write(int count);
    Task<StateSnapshot> Read();
}

/// <remarks>
/// The ADO.NET provider identifies a row by the state name ("counter") and the grain key, not by the grain
/// class: two classes sharing a state name and a storage provider need keys that cannot coincide, which the
/// different key kinds below guarantee.
/// </remarks>
public sealed class StorageTestGrain(
    [PersistentState("counter", StorageTestCluster.StorageName)] IPersistentState<CounterState> state)
    : Grain, IStorageTestGrain
{
    public async Task<StateSnapshot> Write(int count, string? note)
    {
        state.State.Count = count;
        state.State.Note = note;
        await state.WriteStateAsync();
        return StateSnapshot.Of(state);
    }

    public async Task<StateSnapshot> Read()
    {
        await state.ReadStateAsync();
        return StateSnapshot.Of(state);
    }

    public async Task<StateSnapshot> Clear()
    {
        await state.ClearStateAsync();
        return StateSnapshot.Of(state);
    }

    public Task<StateSnapshot> Current() => Task.FromResult(StateSnapshot.Of(state));

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }
}

public sealed class GuidStorageTestGrain(
    [PersistentState("counter", StorageTestCluster.StorageName)] IPersistentState<CounterState> state)
    : Grain, IGuidStorageTestGrain
{
    public async Task<StateSnapshot> Write(int count)
    {
        state.State.Count = count;
        await state.WriteStateAsync();
        return StateSnapshot.Of(state);
    }

    public async Task<StateSnapshot> Read()
    {
        await state.ReadStateAsync();
        return StateSnapshot.Of(state);
    }
}

public sealed class IntegerStorageTestGrain(
    [PersistentState("counter", StorageTestCluster.StorageName)] IPersistentState<CounterState> state)
    : Grain, IIntegerStorageTestGrain
{
    public async Task<StateSnapshot> Write(int count)
    {
        state.State.Count = count;
        await state.WriteStateAsync();
        return StateSnapshot.Of(state);
    }

    public async Task<StateSnapshot> Read()
    {
        await state.ReadStateAsync();
        return StateSnapshot.Of(state);
    }
}

[Alias("ae.tests.IDeletingStorageTestGrain")]
public interface IDeletingStorageTestGrain : IGrainWithStringKey
{
    Task<StateSnapshot> Write(int count);
    Task<StateSnapshot> Clear();
}

public sealed class DeletingStorageTestGrain(
    [PersistentState("deleting-counter", StorageTestCluster.DeletingStorageName)] IPersistentState<CounterState> state)
    : Grain, IDeletingStorageTestGrain
{
    public async Task<StateSnapshot> Write(int count)
    {
        state.State.Count = count;
        await state.WriteStateAsync();
        return StateSnapshot.Of(state);
    }

    public async Task<StateSnapshot> Clear()
    {
        await state.ClearStateAsync();
        return StateSnapshot.Of(state);
    }
}

/// <summary>Registers, lists and removes reminders through the configured reminder service.</summary>
[Alias("ae.tests.IReminderTestGrain")]
public interface IReminderTestGrain : IGrainWithStringKey
{
    Task Register(string name, TimeSpan dueTime, TimeSpan period);
    Task<IReadOnlyList<string>> List();
    Task<bool> Unregister(string name);
}

public sealed class ReminderTestGrain : Grain, IReminderTestGrain, IRemindable
{
    public Task Register(string name, TimeSpan dueTime, TimeSpan period) =>
        this.RegisterOrUpdateReminder(name, dueTime, period);

    public async Task<IReadOnlyList<string>> List()
    {
        var reminders = await this.GetReminders();
        return reminders.Select(r => r.ReminderName).Order(StringComparer.Ordinal).ToList();
    }

    public async Task<bool> Unregister(string name)
    {
        var reminder = await this.GetReminder(name);
        if (reminder is null)
        {
            return false;
        }

        await this.UnregisterReminder(reminder);
        return true;
    }

    // The periods used by the tests are long; a tick arriving anyway is harmless.
    public Task ReceiveReminder(string reminderName, TickStatus status) => Task.CompletedTask;
}
