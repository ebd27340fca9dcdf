using AnalyticsEngine.Catalog;

namespace AnalyticsEngine.Ingest;

/// <summary>Where a field's value sits in an <see cref="EventRow"/>.</summary>
public readonly record struct FieldSlot(FieldDefinition Field, bool IsText, int Index);

/// <summary>
/// The slot layout of one object model's <see cref="EventRow"/>s: non-text fields fill
/// <see cref="EventRow.Numbers"/> and text fields fill <see cref="EventRow.Texts"/>, each in field order.
/// </summary>
public sealed class EventRowLayout
{
    private readonly Dictionary<string, FieldSlot> _byName = new(StringComparer.Ordinal);

    private EventRowLayout(EventRowLayout layout, Dictionary<string, FieldSlot> byName)
    {
        Model = layout.Model;
        NumberCount = layout.NumberCount;
        TextCount = layout.TextCount;
        Slots = layout.Slots;
        _byName = byName;
    }

    public EventRowLayout(ObjectModelDefinition model)
    {
        Model = model;
        var slots = new List<FieldSlot>(model.Fields.Count);
        foreach (var field in model.Fields)
        {
            var isText = field.Type == FieldType.Text;
            var slot = new FieldSlot(field, isText, isText ? TextCount++ : NumberCount++);
            slots.Add(slot);
            _byName.Add(field.Name, slot);
        }

        Slots = slots;
    }

    public ObjectModelDefinition Model { get; }

    public int NumberCount { get; }

    public int TextCount { get; }

    /// <summary>One slot per field, in the object model's field order.</summary>
    public IReadOnlyList<FieldSlot> Slots { get; }

    /// <summary>The slot of a field by its name, or by a client's own name for it (<see cref="WithSourceNames"/>).</summary>
    public bool TryGetSlot(string fieldName, out FieldSlot slot) => _byName.TryGetValue(fieldName, out slot);

    /// <summary>
    /// The same layout, whose slots are found by a client's names for its fields too (a client's field mappings:
    /// source field, model field), so rows are read as the client's systems write them. Rows are the same either way.
    /// </summary>
    public EventRowLayout WithSourceNames(IEnumerable<(string SourceField, string ModelField)> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var byName = new Dictionary<string, FieldSlot>(_byName, StringComparer.Ordinal);
        foreach (var (source, field) in names)
        {
            if (_byName.TryGetValue(field, out var slot))
            {
                byName[source] = slot;
            }
        }

        return new EventRowLayout(this, byName);
    }

    public FieldSlot GetSlot(string fieldName) =>
        _byName.TryGetValue(fieldName, out var slot)
            ? slot
            : throw new ArgumentException($"'{Model.Code}' has no field '{fieldName}'", nameof(fieldName));
}
