"""CSMS-initiated calls on the simulated charge points: what a real charger answers to remote
management, for both OCPP versions, on the `ocpp` package's own routing and schema validation.

`Device` is the charger's persistent side (survives reconnects, like a real charger's flash):
configuration / device model, local authorisation list with its limits, reservations, charging
profiles, the current AuthorizationKey, and the log of every CALL it received. Tests steer it:
`silent` actions are never answered (a charger that never answers), `answers` overrides the
status of an action, `unreadable` configuration keys fail to read (1.6: the GetConfiguration
naming one gets a CALLERROR InternalError; 2.0.1: that variable's attributeStatus is Rejected).

Local pre-authorisation (1.6 `LocalPreAuthorize`, 2.0.1 `AuthCtrlr.LocalPreAuthorize`) ships
as "false" (the charger asks the CSMS while online and uses its local list offline only), with
`LocalAuthorizeOffline` "true": OCPP defines no default and vendors differ, so the gateway reads
it rather than assuming. Tests set `config[...]` to "true" or delete the key (unknown).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ocpp.exceptions import InternalError
from ocpp.routing import on
from ocpp.v16 import ChargePoint as V16ChargePoint
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as V201ChargePoint
from ocpp.v201 import call_result as r201

SECRET_16 = "AuthorizationKey"
SECRET_201 = ("SecurityCtrlr", "BasicAuthPassword")


@dataclass
class Device:
    config: dict[str, str] = field(default_factory=lambda: {
        "HeartbeatInterval": "300", "LocalAuthListEnabled": "true", "LocalAuthListMaxLength": "100",
        "SendLocalListMaxLength": "20", "LocalPreAuthorize": "false", "LocalAuthorizeOffline": "true",
        # 2.0.1 device model: "Component.Variable" (Actual) or "Component.Variable.MaxSet"
        "OCPPCommCtrlr.HeartbeatInterval": "300", "LocalAuthListCtrlr.Enabled": "true",
        "LocalAuthListCtrlr.Entries.MaxSet": "100", "LocalAuthListCtrlr.ItemsPerMessage": "20",
        "LocalAuthListCtrlr.BytesPerMessage": "8000", "AuthCtrlr.LocalPreAuthorize": "false",
        "AuthCtrlr.LocalAuthorizeOffline": "true",
    })
    readonly: set[str] = field(default_factory=lambda: {"LocalAuthListMaxLength", "SendLocalListMaxLength"})
    unreadable: set[str] = field(default_factory=set)  # configuration keys whose read fails
    local_list: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> info
    list_version: int = 0
    list_messages: list[dict[str, Any]] = field(default_factory=list)  # every SendLocalList received
    reservations: set[int] = field(default_factory=set)
    profiles: dict[int, dict[str, Any]] = field(default_factory=dict)
    key: str | None = None  # the AuthorizationKey / BasicAuthPassword the charger now holds
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (action, snake_case payload)
    silent: set[str] = field(default_factory=set)
    answers: dict[str, str] = field(default_factory=dict)  # action -> status to answer instead

    def status(self, action: str, default: str = "Accepted") -> str:
        return self.answers.get(action, default)

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]

    def list_limit(self, name16: str, name201: str, v201: bool) -> int:
        return int(self.config[name201 if v201 else name16])

    def apply_list(self, version: int, update: str, items: list[dict], v201: bool) -> str:
        key_of = (lambda i: f"{i['id_token']['type']}:{i['id_token']['id_token']}") if v201 else \
            (lambda i: i["id_tag"])
        info_of = "id_token_info" if v201 else "id_tag_info"
        self.list_messages.append({"version": version, "update": update, "items": len(items)})
        per_message = self.list_limit("SendLocalListMaxLength", "LocalAuthListCtrlr.ItemsPerMessage", v201)
        if len(items) > per_message:
            return "Failed"
        new = {} if update == "Full" else dict(self.local_list)
        for item in items:
            if item.get(info_of) is None:
                new.pop(key_of(item), None)
            else:
                new[key_of(item)] = item[info_of]
        if len(new) > self.list_limit("LocalAuthListMaxLength", "LocalAuthListCtrlr.Entries.MaxSet", v201):
            return "Failed"
        self.local_list, self.list_version = new, version
        return "Accepted"


class _Silence:
    """Drops CALLs whose action the device was told to ignore: the charger never answers."""

    device: Device

    async def route_message(self, raw_msg):
        try:
            msg = json.loads(raw_msg)
        except ValueError:
            msg = None
        if isinstance(msg, list) and len(msg) == 4 and msg[0] == 2:
            self.device.calls.append((msg[2], msg[3]))
            if msg[2] in self.device.silent:
                return None
        return await super().route_message(raw_msg)


class RemoteV16ChargePoint(_Silence, V16ChargePoint):
    device: Device
    station: Any = None  # the SimulatedStation (its `key` follows a rotation)

    @on("RemoteStartTransaction")
    def remote_start(self, id_tag: str, connector_id: int | None = None, charging_profile=None):
        return r16.RemoteStartTransaction(status=self.device.status("RemoteStartTransaction"))

    @on("RemoteStopTransaction")
    def remote_stop(self, transaction_id: int):
        return r16.RemoteStopTransaction(status=self.device.status("RemoteStopTransaction"))

    @on("Reset")
    def reset(self, type: str):  # noqa: A002 - OCPP field name
        return r16.Reset(status=self.device.status("Reset"))

    @on("UnlockConnector")
    def unlock(self, connector_id: int):
        return r16.UnlockConnector(status=self.device.status("UnlockConnector", "Unlocked"))

    @on("ChangeAvailability")
    def availability(self, connector_id: int, type: str):  # noqa: A002
        return r16.ChangeAvailability(status=self.device.status("ChangeAvailability"))

    @on("GetConfiguration")
    def get_configuration(self, key: list[str] | None = None):
        names = key if key is not None else [k for k in self.device.config if "." not in k]
        failing = sorted(set(names) & self.device.unreadable)
        if failing:
            raise InternalError(description=f"cannot read {', '.join(failing)}")
        known = [{"key": k, "readonly": k in self.device.readonly, "value": self.device.config[k]}
                 for k in names if k in self.device.config]
        unknown = [k for k in names if k not in self.device.config]
        return r16.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on("ChangeConfiguration")
    def change_configuration(self, key: str, value: str):
        if key == SECRET_16:
            status = self.device.status("ChangeConfiguration")
            if status == "Accepted":
                self.device.key = value
                if self.station is not None:
                    self.station.key = value
            return r16.ChangeConfiguration(status=status)
        if key in self.device.readonly:
            return r16.ChangeConfiguration(status="Rejected")
        if key not in self.device.config:
            return r16.ChangeConfiguration(status="NotSupported")
        self.device.config[key] = value
        return r16.ChangeConfiguration(status=self.device.status("ChangeConfiguration"))

    @on("ClearCache")
    def clear_cache(self):
        return r16.ClearCache(status=self.device.status("ClearCache"))

    @on("TriggerMessage")
    def trigger(self, requested_message: str, connector_id: int | None = None):
        return r16.TriggerMessage(status=self.device.status("TriggerMessage"))

    @on("UpdateFirmware")
    def update_firmware(self, location: str, retrieve_date: str, retries=None, retry_interval=None):
        return r16.UpdateFirmware()

    @on("GetDiagnostics")
    def get_diagnostics(self, location: str, **_):
        return r16.GetDiagnostics(file_name=f"{self.id}-diagnostics.tar.gz")

    @on("ReserveNow")
    def reserve(self, connector_id: int, expiry_date: str, id_tag: str, reservation_id: int, parent_id_tag=None):
        self.device.reservations.add(reservation_id)
        return r16.ReserveNow(status=self.device.status("ReserveNow"))

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id: int):
        found = reservation_id in self.device.reservations
        self.device.reservations.discard(reservation_id)
        return r16.CancelReservation(status="Accepted" if found else "Rejected")

    @on("SetChargingProfile")
    def set_profile(self, connector_id: int, cs_charging_profiles: dict):
        self.device.profiles[cs_charging_profiles["charging_profile_id"]] = cs_charging_profiles
        return r16.SetChargingProfile(status=self.device.status("SetChargingProfile"))

    @on("ClearChargingProfile")
    def clear_profile(self, id: int | None = None, **_):  # noqa: A002
        found = id in self.device.profiles if id is not None else bool(self.device.profiles)
        if id is None:
            self.device.profiles.clear()
        else:
            self.device.profiles.pop(id, None)
        return r16.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @on("GetCompositeSchedule")
    def composite(self, connector_id: int, duration: int, charging_rate_unit: str | None = None):
        return r16.GetCompositeSchedule(
            status="Accepted", connector_id=connector_id, schedule_start="2025-01-01T00:00:00Z",
            charging_schedule={"duration": duration, "charging_rate_unit": charging_rate_unit or "A",
                               "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]})

    @on("SendLocalList")
    def send_local_list(self, list_version: int, update_type: str, local_authorization_list=None):
        status = self.device.apply_list(list_version, update_type, local_authorization_list or [], v201=False)
        return r16.SendLocalList(status=status)

    @on("GetLocalListVersion")
    def local_list_version(self):
        return r16.GetLocalListVersion(list_version=self.device.list_version)

    @on("DataTransfer")
    def data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None):
        return r16.DataTransfer(status=self.device.status("DataTransfer"), data=data)


class RemoteV201ChargePoint(_Silence, V201ChargePoint):
    device: Device
    station: Any = None

    def _variable(self, item: dict) -> tuple[str, str | None]:
        name = f"{item['component']['name']}.{item['variable']['name']}"
        attr = item.get("attribute_type", "Actual")
        return name, self.device.config.get(name if attr == "Actual" else f"{name}.{attr}")

    @on("RequestStartTransaction")
    def remote_start(self, id_token: dict, remote_start_id: int, evse_id=None, group_id_token=None,
                     charging_profile=None):
        return r201.RequestStartTransaction(status=self.device.status("RequestStartTransaction"))

    @on("RequestStopTransaction")
    def remote_stop(self, transaction_id: str):
        return r201.RequestStopTransaction(status=self.device.status("RequestStopTransaction"))

    @on("Reset")
    def reset(self, type: str, evse_id: int | None = None):  # noqa: A002
        return r201.Reset(status=self.device.status("Reset"))

    @on("UnlockConnector")
    def unlock(self, evse_id: int, connector_id: int):
        return r201.UnlockConnector(status=self.device.status("UnlockConnector", "Unlocked"))

    @on("ChangeAvailability")
    def availability(self, operational_status: str, evse=None):
        return r201.ChangeAvailability(status=self.device.status("ChangeAvailability"))

    @on("GetVariables")
    def get_variables(self, get_variable_data: list[dict]):
        results = []
        for item in get_variable_data:
            name, value = self._variable(item)
            if (item["component"]["name"], item["variable"]["name"]) == SECRET_201:
                value = None  # write-only
            if name in self.device.unreadable:
                results.append({"attribute_status": "Rejected", "component": item["component"],
                                "variable": item["variable"]})
                continue
            result = {"attribute_status": "Accepted" if value is not None else "UnknownVariable",
                      "component": item["component"], "variable": item["variable"]}
            if "attribute_type" in item:
                result["attribute_type"] = item["attribute_type"]
            if value is not None:
                result["attribute_value"] = value
            results.append(result)
        return r201.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def set_variables(self, set_variable_data: list[dict]):
        results = []
        for item in set_variable_data:
            name = f"{item['component']['name']}.{item['variable']['name']}"
            if (item["component"]["name"], item["variable"]["name"]) == SECRET_201:
                status = self.device.status("SetVariables")
                if status == "Accepted":
                    self.device.key = item["attribute_value"]
                    if self.station is not None:
                        self.station.key = item["attribute_value"]
            elif name in self.device.config:
                self.device.config[name] = item["attribute_value"]
                status = self.device.status("SetVariables")
            else:
                status = "UnknownVariable"
            results.append({"attribute_status": status, "component": item["component"], "variable": item["variable"]})
        return r201.SetVariables(set_variable_result=results)

    @on("GetBaseReport")
    def base_report(self, request_id: int, report_base: str):
        return r201.GetBaseReport(status=self.device.status("GetBaseReport"))

    @on("ClearCache")
    def clear_cache(self):
        return r201.ClearCache(status=self.device.status("ClearCache"))

    @on("TriggerMessage")
    def trigger(self, requested_message: str, evse=None):
        return r201.TriggerMessage(status=self.device.status("TriggerMessage"))

    @on("UpdateFirmware")
    def update_firmware(self, request_id: int, firmware: dict, retries=None, retry_interval=None):
        return r201.UpdateFirmware(status=self.device.status("UpdateFirmware"))

    @on("GetLog")
    def get_log(self, log_type: str, request_id: int, log: dict, retries=None, retry_interval=None):
        return r201.GetLog(status=self.device.status("GetLog"), filename=f"{self.id}-{log_type}.tar.gz")

    @on("ReserveNow")
    def reserve(self, id: int, expiry_date_time: str, id_token: dict, **_):  # noqa: A002
        self.device.reservations.add(id)
        return r201.ReserveNow(status=self.device.status("ReserveNow"))

    @on("CancelReservation")
    def cancel_reservation(self, reservation_id: int):
        found = reservation_id in self.device.reservations
        self.device.reservations.discard(reservation_id)
        return r201.CancelReservation(status="Accepted" if found else "Rejected")

    @on("SetChargingProfile")
    def set_profile(self, evse_id: int, charging_profile: dict):
        self.device.profiles[charging_profile["id"]] = charging_profile
        return r201.SetChargingProfile(status=self.device.status("SetChargingProfile"))

    @on("ClearChargingProfile")
    def clear_profile(self, charging_profile_id: int | None = None, charging_profile_criteria=None):
        found = charging_profile_id in self.device.profiles if charging_profile_id is not None \
            else bool(self.device.profiles)
        if charging_profile_id is None:
            self.device.profiles.clear()
        else:
            self.device.profiles.pop(charging_profile_id, None)
        return r201.ClearChargingProfile(status="Accepted" if found else "Unknown")

    @on("GetCompositeSchedule")
    def composite(self, duration: int, evse_id: int, charging_rate_unit: str | None = None):
        return r201.GetCompositeSchedule(status="Accepted", schedule={
            "evse_id": evse_id, "duration": duration, "schedule_start": "2025-01-01T00:00:00Z",
            "charging_rate_unit": charging_rate_unit or "A",
            "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]})

    @on("SendLocalList")
    def send_local_list(self, version_number: int, update_type: str, local_authorization_list=None):
        status = self.device.apply_list(version_number, update_type, local_authorization_list or [], v201=True)
        return r201.SendLocalList(status=status)

    @on("GetLocalListVersion")
    def local_list_version(self):
        return r201.GetLocalListVersion(version_number=self.device.list_version)

    @on("DataTransfer")
    def data_transfer(self, vendor_id: str, message_id: str | None = None, data: Any = None):
        return r201.DataTransfer(status=self.device.status("DataTransfer"), data=data)
