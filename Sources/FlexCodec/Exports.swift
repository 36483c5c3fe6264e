// The wire carries FlexCore's values (requests, events, statuses, savings records): a service that
// imports the codec, or FlexClient, gets them without a second import.
@_exported public import FlexCore
