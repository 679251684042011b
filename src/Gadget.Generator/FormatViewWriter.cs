using System.Globalization;
using System.Text;
using Gadget.Schema;

namespace Gadget.Generator;

/// <summary>
/// Writes the views of the gadgets' event types: the table views their gadget.yaml describes, and
/// a list view of every property. Column widths are fixed, so a live stream prints row by row
/// instead of waiting for PowerShell to measure. Text a traced process controls (argv, file names,
/// process names) and every script column go through <c>[Gadget.ControlText]::Display</c>, so control
/// characters show as visible escapes and never drive the terminal; the properties keep the raw text.
/// </summary>
internal static class FormatViewWriter
{
    /// <summary>The call that makes a value safe to print (the module names the type to PowerShell).</summary>
    public const string Display = "[Gadget.ControlText]::Display";

    public static string Write(IReadOnlyList<GadgetSource> types, IReadOnlyDictionary<string, IReadOnlyList<ViewProperty>> properties)
    {
        var xml = new StringBuilder();
        xml.AppendLine("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        xml.AppendLine("<!-- Written by src/Gadget.Generator from the gadget.yaml files under bpf/ (their views).");
        xml.AppendLine("     Do not edit: change the gadget's folder, then run ./build.ps1 -Task Generate. -->");
        xml.AppendLine("<Configuration>");
        xml.AppendLine("  <ViewDefinitions>");
        foreach (GadgetSource gadget in types.OrderBy(t => t.Metadata.TypeName, StringComparer.Ordinal))
        {
            IReadOnlyList<ViewProperty> typeProperties = properties[gadget.Metadata.TypeName!];
            foreach (ViewMetadata view in gadget.Metadata.Views)
            {
                WriteView(xml, view, "Gadget." + gadget.Metadata.TypeName, typeProperties);
            }

            WriteListView(xml, "Gadget." + gadget.Metadata.TypeName, typeProperties);
        }

        xml.AppendLine("  </ViewDefinitions>");
        xml.AppendLine("</Configuration>");
        return xml.ToString();
    }

    /// <summary>What a view shows for a property: the property itself, or its value escaped when it may hold text.</summary>
    public static string Item(string property, bool isText)
        => isText ? $"<ScriptBlock>{Text.Xml($"{Display}($_.{property})")}</ScriptBlock>" : $"<PropertyName>{Text.Xml(property)}</PropertyName>";

    private static void WriteListView(StringBuilder xml, string typeName, IReadOnlyList<ViewProperty> properties)
    {
        xml.AppendLine("    <View>");
        xml.AppendLine($"      <Name>{Text.Xml(typeName)}.List</Name>");
        xml.AppendLine("      <ViewSelectedBy>");
        xml.AppendLine($"        <TypeName>{Text.Xml(typeName)}</TypeName>");
        xml.AppendLine("      </ViewSelectedBy>");
        xml.AppendLine("      <ListControl>");
        xml.AppendLine("        <ListEntries>");
        xml.AppendLine("          <ListEntry>");
        xml.AppendLine("            <ListItems>");
        foreach (ViewProperty property in properties)
        {
            string label = property.IsText ? $"<Label>{Text.Xml(property.Name)}</Label>" : string.Empty;
            xml.AppendLine($"              <ListItem>{label}{Item(property.Name, property.IsText)}</ListItem>");
        }

        xml.AppendLine("            </ListItems>");
        xml.AppendLine("          </ListEntry>");
        xml.AppendLine("        </ListEntries>");
        xml.AppendLine("      </ListControl>");
        xml.AppendLine("    </View>");
    }

    private static void WriteView(StringBuilder xml, ViewMetadata view, string typeName, IReadOnlyList<ViewProperty> properties)
    {
        xml.AppendLine("    <View>");
        xml.AppendLine($"      <Name>{Text.Xml(view.Name)}</Name>");
        xml.AppendLine("      <ViewSelectedBy>");
        xml.AppendLine($"        <TypeName>{Text.Xml(typeName)}</TypeName>");
        xml.AppendLine("      </ViewSelectedBy>");
        xml.AppendLine("      <TableControl>");
        xml.AppendLine("        <TableHeaders>");
        foreach (ColumnMetadata column in view.Columns)
        {
            string width = column.Width is int w ? $"<Width>{w.ToString(CultureInfo.InvariantCulture)}</Width>" : string.Empty;
            string alignment = column.AlignRight ? "<Alignment>Right</Alignment>" : string.Empty;
            xml.AppendLine($"          <TableColumnHeader><Label>{Text.Xml(column.Label)}</Label>{width}{alignment}</TableColumnHeader>");
        }

        xml.AppendLine("        </TableHeaders>");
        xml.AppendLine("        <TableRowEntries>");
        xml.AppendLine("          <TableRowEntry>");
        xml.AppendLine("            <TableColumnItems>");
        foreach (ColumnMetadata column in view.Columns)
        {
            // A script's value is not known here: it is escaped whatever it is (Display leaves numbers, times and enums alone).
            string item = column.Script is string script
                ? $"<ScriptBlock>{Text.Xml($"{Display}($({script}))")}</ScriptBlock>"
                : Item(
                    column.Property ?? throw new InvalidOperationException($"Column {column.Label} of view {view.Name} needs a property or a script."),
                    properties.FirstOrDefault(p => p.Name == column.Property)?.IsText ?? true);
            string format = column.Format is string f ? $"<FormatString>{Text.Xml(f)}</FormatString>" : string.Empty;
            xml.AppendLine($"              <TableColumnItem>{item}{format}</TableColumnItem>");
        }

        xml.AppendLine("            </TableColumnItems>");
        xml.AppendLine("          </TableRowEntry>");
        xml.AppendLine("        </TableRowEntries>");
        xml.AppendLine("      </TableControl>");
        xml.AppendLine("    </View>");
    }
}
