using AnalyticsEngine.Catalog;
using AnalyticsEngine.Ingest;

namespace AnalyticsEngine.Kpi.Engine;

/// <summary>Which array of an <see cref="EventRow"/> holds a field.</summary>
public enum FieldSlotKind
{
    /// <summary>In <see cref="EventRow.Numbers"/>: number, integer, boolean (1/0) and timestamp (Unix ms) fields; null is NaN.</summary>
    Number,

    /// <summary>In <see cref="EventRow.Texts"/>: text fields; null is null.</summary>
    Text,
}

/// <summary>Where one field lives in an <see cref="EventRow"/>.</summary>
public readonly record struct FieldSlot(FieldSlotKind Kind, int Index, FieldType Type);

/// <summary>
/// Maps an object model's fields to the slots of an <see cref="EventRow"/>: non-text fields fill
/// <see cref="EventRow.Numbers"/> and text fields fill <see cref="EventRow.Texts"/>, each in the order the model lists
/// them. The ingest side builds rows with it and the engine reads them with it, so both agree by construction.
/// </summary>
public sealed class ObjectModelLayout
{
    private readonly Dictionary<string, FieldSlot> _slots = new(StringComparer.Ordinal);

    public ObjectModelLayout(ObjectModelDefinition model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        // The row layout itself is defined once, by the contract's EventRowLayout (ingest writes rows with it).
        var rows = new EventRowLayout(model);
        foreach (var slot in rows.Slots)
        {
            _slots[slot.Field.Name] = new FieldSlot(slot.IsText ? FieldSlotKind.Text : FieldSlotKind.Number, slot.Index, slot.Field.Type);
        }

        NumberCount = rows.NumberCount;
        TextCount = rows.TextCount;

        KeySlots = model.KeyFields.Select(Slot).ToArray();
    }

    /// <summary>The object model this layout describes.</summary>
    public ObjectModelDefinition Model { get; }

    /// <summary>Length of <see cref="EventRow.Numbers"/>.</summary>
    public int NumberCount { get; }

    /// <summary>Length of <see cref="EventRow.Texts"/>.</summary>
    public int TextCount { get; }

    /// <summary>Slots of the model's key fields (for snapshot objects: one latest row per key).</summary>
    public IReadOnlyList<FieldSlot> KeySlots { get; }

    /// <summary>The slot of a field; throws <see cref="KeyNotFoundException"/> for an unknown field.</summary>
    public FieldSlot Slot(string fieldName) =>
        _slots.TryGetValue(fieldName, out var slot) ? slot : throw new KeyNotFoundException($"object model '{Model.Code}' has no field '{fieldName}'");

    /// <summary>The slot of a field, or false when the model has no such field.</summary>
    public bool TryGetSlot(string fieldName, out FieldSlot slot) => _slots.TryGetValue(fieldName, out slot);

    /// <summary>Empty arrays of the right sizes, numbers set to null (NaN), for building a row field by field.</summary>
    public (double[] Numbers, string?[] Texts) NewRowArrays()
    {
        var numbers = new double[NumberCount];
        Array.Fill(numbers, double.NaN);
        return (numbers, new string?[TextCount]);
    }

    /// <summary>
    /// Builds a row from field values (number, bool, DateTimeOffset/Instant-as-DateTimeOffset or string; null for
    /// missing). Convenient for tests, demos and the ingest path; not meant for the engine's hot path.
    /// </summary>
    public EventRow CreateRow(long sequence, DateTimeOffset eventTime, IReadOnlyDictionary<string, object?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var (numbers, texts) = NewRowArrays();
        foreach (var (name, value) in values)
        {
            var slot = Slot(name);
            if (slot.Kind == FieldSlotKind.Text)
            {
                texts[slot.Index] = value?.ToString();
            }
            else
            {
                numbers[slot.Index] = value switch
                {
                    null => double.NaN,
                    bool b => b ? 1 : 0,
                    DateTimeOffset time => time.ToUnixTimeMilliseconds(),
                    IConvertible convertible => convertible.ToDouble(System.Globalization.CultureInfo.InvariantCulture),
                    _ => throw new ArgumentException($"field '{name}' cannot take a {value.GetType().Name}", nameof(values)),
                };
            }
        }

        return new EventRow(sequence, eventTime, numbers, texts);
    }
}
