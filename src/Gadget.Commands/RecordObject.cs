using System.Management.Automation;

namespace Gadget.Commands;

/// <summary>
/// An event of a gadget the client has no type for, as PowerShell shows it: the record (node,
/// pod, process …) with each of its gadget's fields as a property, and the type name
/// <c>Gadget.&lt;gadget&gt;</c> first, so a view or a filter can select it.
/// </summary>
internal static class RecordObject
{
    public static PSObject From(GadgetRecord record)
    {
        var wrapped = new PSObject(record);
        wrapped.TypeNames.Insert(0, "Gadget." + record.Gadget);
        foreach ((string name, object? value) in record.Fields)
        {
            // proc.pid reads as proc_pid; a field that is already a property (pid, comm) keeps the record's.
            string property = name.Replace('.', '_');
            if (wrapped.Properties[property] is null)
            {
                wrapped.Properties.Add(new PSNoteProperty(property, value));
            }
        }

        return wrapped;
    }
}
