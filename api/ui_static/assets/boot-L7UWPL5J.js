import{j as n}from"./chunk-3HBJRW5P.js";import"./chunk-ASNZLBHM.js";window.kgtwinOpening??(window.kgtwinOpening=n());
