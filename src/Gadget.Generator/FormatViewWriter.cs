using System.Globalization;
using System.Text;
using Gadget.Schema;

namespace Gadget.Generator;

/// <summary>
/// Writes the table views of the gadgets' event types from their gadget.yaml. Column widths are
/// fixed, so a live stream prints row by row instead of waiting for PowerShell to measure.
/// </summary>
internal static class FormatViewWriter
{
    public static string Write(IReadOnlyList<GadgetSource> types)
    {
        var xml = new StringBuilder();
        xml.AppendLine("<?xml version=\"1.0\" encoding=\"utf-8\"?>");
        xml.AppendLine("<!-- Written by src/Gadget.Generator from the gadget.yaml files under bpf/ (their views).");
        xml.AppendLine("     Do not edit: change the gadget's folder, then run ./build.ps1 -Task Generate. -->");
        xml.AppendLine("<Configuration>");
        xml.AppendLine("  <ViewDefinitions>");
        foreach (GadgetSource gadget in types.OrderBy(t => t.Metadata.TypeName, StringComparer.Ordinal))
        {
            foreach (ViewMetadata view in gadget.Metadata.Views)
            {
                WriteView(xml, view, "Gadget." + gadget.Metadata.TypeName);
            }
        }

        xml.AppendLine("  </ViewDefinitions>");
        xml.AppendLine("</Configuration>");
        return xml.ToString();
    }

    private static void WriteView(StringBuilder xml, ViewMetadata view, string typeName)
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
            string item = column.Script is string script
                ? $"<ScriptBlock>{Text.Xml(script)}</ScriptBlock>"
                : $"<PropertyName>{Text.Xml(column.Property ?? throw new InvalidOperationException($"Column {column.Label} of view {view.Name} needs a property or a script."))}</PropertyName>";
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
