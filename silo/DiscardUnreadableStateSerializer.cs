using Orleans.Storage;

namespace AnalyticsEngine.Silo;

/// <summary>
/// Reads grain state with the inner serializer, and treats state it cannot read (a torn or foreign row)
/// as empty instead of failing the activation forever. Only for stores whose grains rebuild from the
/// database: a KPI checkpoint is a cache of the log, so losing it costs a replay, never correctness.
/// </summary>
public sealed class DiscardUnreadableStateSerializer(IGrainStorageSerializer inner, ILogger logger) : IGrainStorageSerializer
{
    public BinaryData Serialize<T>(T? input) => inner.Serialize(input);

    public T? Deserialize<T>(BinaryData input)
    {
        try
        {
            return inner.Deserialize<T>(input);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogWarning(ex, "Discarding unreadable {StateType} ({Bytes} bytes); the grain rebuilds it", typeof(T).Name, input.ToMemory().Length);
            return Activator.CreateInstance<T>();
        }
    }
}
