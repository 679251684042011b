# The cmdlets and the libraries they ship (gRPC, protobuf, the Kubernetes client, YamlDotNet) load
# in a context of their own, so that another module's versions of those libraries, loaded before
# Gadget or after it, break neither module. Only Gadget.LoadContext.dll loads in the default context.
$isReload = [bool]('Gadget.LoadContext.ModuleLoadContext' -as [type])
if (-not $isReload) { Add-Type -Path (Join-Path $PSScriptRoot 'Gadget.LoadContext.dll') }
$context = [Gadget.LoadContext.ModuleLoadContext]::ForModule($PSScriptRoot)

# PowerShell finds a type literal ([Gadget.DnsRcode]::NXDomain, -is [Gadget.ExecEvent]) among the
# default context's assemblies only: the module's public types are named to it as accelerators,
# for as long as the module is imported.
$accelerators = [psobject].Assembly.GetType('System.Management.Automation.TypeAccelerators')
$publicTypes = $context.PublicTypes
foreach ($type in $publicTypes) { $accelerators::Add($type.FullName, $type) }

# Export-Csv writes a DateTime in the culture's short form (no milliseconds, no zone). Each event
# time property is shadowed by a code property that returns the same DateTime, whose own ToString()
# is ISO 8601 with milliseconds and offset (see Gadget.LocalTimeText).
$timeText = $context.Commands.GetType('Gadget.LocalTimeText', $true)
$timeProperties = @{ 'Gadget.GadgetEvent' = @('Timestamp'); 'Gadget.GadgetTopRow' = @('IntervalStart', 'IntervalEnd'); 'Gadget.ProcessEntry' = @('StartTime') }
foreach ($typeName in $timeProperties.Keys) {
    foreach ($property in $timeProperties[$typeName]) {
        Update-TypeData -TypeName $typeName -MemberType CodeProperty -MemberName $property -Value $timeText.GetMethod($property) -Force
    }
}

# A private agent (started by -Local when none runs) serves the module's commands: it goes with the module.
$localAgent = $publicTypes | Where-Object FullName -EQ 'Gadget.Connection.LocalAgent'
$ExecutionContext.SessionState.Module.OnRemove = {
    $localAgent::StopPrivateAgent()
    foreach ($type in $publicTypes) { [void]$accelerators::Remove($type.FullName) }
    foreach ($typeName in $timeProperties.Keys) { Remove-TypeData -TypeName $typeName -ErrorAction Ignore }
}.GetNewClosure()

$commands = Import-Module -Assembly $context.Commands -PassThru:$isReload
if ($commands) {
    # Imported again (Import-Module -Force, or after Remove-Module), the assembly's module comes
    # from PowerShell's cache without handing its cmdlets to this module
    # (PowerShell/PowerShell#20710): hand them over here.
    $addExportedCmdlet = [System.Management.Automation.PSModuleInfo].GetMethod('AddExportedCmdlet', [System.Reflection.BindingFlags]'Instance, NonPublic')
    foreach ($cmdlet in $commands.ExportedCmdlets.Values) { $addExportedCmdlet.Invoke($ExecutionContext.SessionState.Module, @(, $cmdlet)) }
}
